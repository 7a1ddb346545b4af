import NIOCore
@testable import PlexusRelay
import XCTest

/// Rate-limited log lines and the aggregate loss line, on virtual time.
final class LogThrottleTests: XCTestCase {
    func testAtMostBurstLinesPerIntervalAndTheSuppressedAreCounted() {
        var throttle = LogThrottle(interval: .seconds(10), burst: 2)
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        XCTAssertTrue(throttle.admit(now: start).log)
        XCTAssertTrue(throttle.admit(now: start + .seconds(1)).log)
        for second in 2..<9 { XCTAssertFalse(throttle.admit(now: start + .seconds(Int64(second))).log) }
        let next = throttle.admit(now: start + .seconds(10))
        XCTAssertTrue(next.log)
        XCTAssertEqual(next.suppressedBefore, 7)
        XCTAssertEqual(throttle.admit(now: start + .seconds(11)).suppressedBefore, 0)
    }

    func testLossReportSaysOnlyWhatWasLostSinceTheLastReport() {
        var report = LossReport()
        XCTAssertEqual(report.since(broadcasts: [:], events: [:]), "")
        XCTAssertEqual(report.since(broadcasts: ["slow-consumer": 2], events: ["relay-unreachable": 5]),
                       "events relay-unreachable=5; broadcasts slow-consumer=2")
        XCTAssertEqual(report.since(broadcasts: ["slow-consumer": 2], events: ["relay-unreachable": 7]),
                       "events relay-unreachable=2")
        XCTAssertEqual(report.since(broadcasts: ["slow-consumer": 2], events: ["relay-unreachable": 7]), "")
    }
}
