import NIOCore
import PlexusMembership
@testable import PlexusRelayCore
import PlexusPeerWire
import XCTest

/// Virtual time: milliseconds since an arbitrary origin.
private func at(_ milliseconds: Int64) -> NIODeadline { .uptimeNanoseconds(UInt64(milliseconds) * 1_000_000) }

final class RemoteRequestsTests: XCTestCase {
    func testReplyCompletesOnceAndOnlyFromTheTargetRelay() {
        var table = RemoteRequests<String>()
        let id = table.register(to: node(2), deadline: at(100), context: "client 5 / q 1")
        XCTAssertEqual(table.inflight(to: node(2)), 1)
        XCTAssertNil(table.complete(id: id, from: node(3)), "a reply from another relay is dropped")
        XCTAssertNil(table.complete(id: id + 1, from: node(2)), "unknown id is dropped")
        XCTAssertEqual(table.complete(id: id, from: node(2))?.context, "client 5 / q 1")
        XCTAssertNil(table.complete(id: id, from: node(2)), "second reply is dropped")
        XCTAssertEqual(table.inflight(to: node(2)), 0)
        XCTAssertEqual(table.count, 0)
        XCTAssertNil(table.nextDeadline)
        XCTAssertEqual(table.expire(now: at(1_000)), [])
    }

    func testDeadlinesExpireInOrderOnVirtualTime() {
        var table = RemoteRequests<Int>()
        let late = table.register(to: node(2), deadline: at(300), context: 3)
        let early = table.register(to: node(3), deadline: at(100), context: 1)
        let middle = table.register(to: node(2), deadline: at(200), context: 2)
        XCTAssertEqual(table.nextDeadline, at(100))
        XCTAssertEqual(table.expire(now: at(99)), [])
        XCTAssertEqual(table.expire(now: at(100)).map(\.id), [early])
        XCTAssertEqual(table.nextDeadline, at(200))
        XCTAssertNotNil(table.complete(id: middle, from: node(2)))
        XCTAssertEqual(table.nextDeadline, at(300), "a completed request's deadline no longer counts")
        XCTAssertEqual(table.expire(now: at(10_000)).map(\.id), [late])
        XCTAssertNil(table.complete(id: late, from: node(2)), "an expired request takes no late reply")
        XCTAssertEqual(table.inflight(to: node(2)), 0)
    }

    func testPeerFailureFailsEverythingPendingThereAtOnce() {
        var table = RemoteRequests<Int>()
        var onB: [UInt64] = []
        for index in 0..<10 {
            let target = index.isMultiple(of: 2) ? node(2) : node(3)
            let id = table.register(to: target, deadline: at(Int64(1_000 + index)), context: index)
            if target == node(2) { onB.append(id) }
        }
        let failed = table.peerFailed(node(2))
        XCTAssertEqual(failed.map(\.id), onB)
        XCTAssertEqual(failed.map(\.context), [0, 2, 4, 6, 8])
        XCTAssertEqual(table.inflight(to: node(2)), 0)
        XCTAssertEqual(table.inflight(to: node(3)), 5)
        XCTAssertEqual(table.peerFailed(node(2)), [])
        XCTAssertEqual(table.expire(now: at(5_000)).map(\.context), [1, 3, 5, 7, 9])
    }

    func testDeadlineHeapStaysProportionalToPendingRequests() {
        var table = RemoteRequests<Int>()
        for index in 0..<10_000 {
            let id = table.register(to: node(2), deadline: at(60_000 - Int64(index % 100)), context: index)
            XCTAssertNotNil(table.complete(id: id, from: node(2)))
        }
        XCTAssertEqual(table.count, 0)
        XCTAssertLessThanOrEqual(table.deadlineHeapCount, 64 + 1)
    }

    func testMillisecondsLeftRoundsDownAndNeverGoesNegative() {
        XCTAssertEqual(millisecondsLeft(until: at(1_500), now: at(0)), 1_500)
        XCTAssertEqual(millisecondsLeft(until: .uptimeNanoseconds(1_999_999), now: at(0)), 1)
        XCTAssertEqual(millisecondsLeft(until: at(10), now: at(10)), 0)
        XCTAssertEqual(millisecondsLeft(until: at(10), now: at(11)), 0)
    }

    func testArrivingRequestWithNoTimeLeftIsAnsweredTimedOut() {
        XCTAssertEqual(IncomingRequestAdmission(millisecondsLeft: 0, arrival: at(50)), .answerTimedOut)
        XCTAssertEqual(IncomingRequestAdmission(millisecondsLeft: 1, arrival: at(50)),
                       .deliver(deadline: at(51), clientTimeoutMilliseconds: 1))
        XCTAssertEqual(IncomingRequestAdmission(millisecondsLeft: .max, arrival: at(50)),
                       .deliver(deadline: .uptimeNanoseconds(UInt64(Int64.max)), clientTimeoutMilliseconds: .max))
    }

    /// Relay A forwards with 1,500 ms left; relay B's clock is unrelated to A's. Only ms-left
    /// travels, B's deadline is its arrival + 1,500 ms, and A's own deadline stays authoritative.
    func testOnlyMillisecondsLeftTravelsBetweenClocks() {
        var table = RemoteRequests<String>()
        let sentAt = at(0)
        _ = table.register(to: node(2), deadline: at(1_500), context: "q")
        let left = millisecondsLeft(until: at(1_500), now: sentAt)
        XCTAssertEqual(left, 1_500)
        XCTAssertEqual(table.expire(now: at(1_500)).map(\.context), ["q"])
        // B's clock differs from A's; only the ms-left travels.
        XCTAssertEqual(IncomingRequestAdmission(millisecondsLeft: left, arrival: at(900_000)),
                       .deliver(deadline: at(901_500), clientTimeoutMilliseconds: 1_500))
    }
}
