import NIOCore
import PlexusMembership
import PlexusPeerWire
@testable import PlexusRelayCore
import XCTest

private func at(_ milliseconds: Int64) -> NIODeadline { .uptimeNanoseconds(UInt64(milliseconds) * 1_000_000) }

final class ServedRemoteRequestsTests: XCTestCase {
    func testArrivalRuleAndDuplicates() {
        var served = ServedRemoteRequests<String>()
        let fromA = OriginRequest(node: node(1), id: 7)
        XCTAssertEqual(served.admit(fromA, millisecondsLeft: 0, arrival: at(0), context: "x"), .answerTimedOut)
        XCTAssertEqual(served.count, 0, "an expired arrival is not recorded")
        XCTAssertEqual(served.admit(fromA, millisecondsLeft: 250, arrival: at(0), context: "c1"),
                       .deliver(clientTimeoutMilliseconds: 250))
        XCTAssertEqual(served.admit(fromA, millisecondsLeft: 250, arrival: at(1), context: "c2"), .duplicate)
        XCTAssertEqual(served.admit(OriginRequest(node: node(2), id: 7), millisecondsLeft: 9, arrival: at(1), context: "c3"),
                       .deliver(clientTimeoutMilliseconds: 9), "ids are scoped by origin relay")
        XCTAssertEqual(served.nextDeadline, at(10))
    }

    func testEachRequestLeavesOnce() {
        var served = ServedRemoteRequests<Int>()
        for id: UInt64 in 0..<6 {
            _ = served.admit(OriginRequest(node: node(id % 2 + 1), id: id), millisecondsLeft: 100 + id,
                             arrival: at(0), context: Int(id))
        }
        XCTAssertEqual(served.answer(OriginRequest(node: node(1), id: 0)), 0)
        XCTAssertNil(served.answer(OriginRequest(node: node(1), id: 0)), "answered twice")
        XCTAssertEqual(served.originFailed(node(2)).map(\.context), [1, 3, 5])
        XCTAssertEqual(served.pending(from: node(2)), 0)
        XCTAssertEqual(served.expire(now: at(102)).map(\.context), [2])
        XCTAssertNil(served.answer(OriginRequest(node: node(1), id: 2)), "a late answer is dropped")
        XCTAssertEqual(served.expire(now: at(1_000)).map(\.request), [OriginRequest(node: node(1), id: 4)])
        XCTAssertEqual(served.count, 0)
        XCTAssertNil(served.nextDeadline)
    }
}
