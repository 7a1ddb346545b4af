import NIOCore
@testable import PlexusRelayCore
import PlexusWire
import XCTest

/// Request/reply routing, deadlines and faults on virtual time.
final class CoreRequestTests: XCTestCase {
    func testRoundRobinAndOriginalTimeoutForwarded() {
        var h = CoreHarness()
        let a = h.connect("svc"), b = h.connect("svc"), c = h.connect(nil)
        XCTAssertEqual(h.receive(.request(id: 5, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 1000), from: c),
                       [p(a, .request(id: 0, payload: s("q"), timeoutMilliseconds: 1000))])
        XCTAssertEqual(h.advance(milliseconds: 400), [])
        XCTAssertEqual(h.receive(.request(id: 6, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 1000), from: c),
                       [p(b, .request(id: 0, payload: s("q"), timeoutMilliseconds: 1000))])
        XCTAssertEqual(h.receive(.reply(id: 0, outcome: .success(s("A"))), from: a), [p(c, .reply(id: 5, result: .success(s("A"))))])
        XCTAssertEqual(h.receive(.reply(id: 0, outcome: .fault(s("oops"))), from: b), [p(c, .reply(id: 6, result: .fault(s("oops"))))])
    }

    func testZeroTimeoutIsAnsweredAtOnce() {
        var h = CoreHarness()
        let a = h.connect("svc")
        XCTAssertEqual(h.receive(.request(id: 1, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 0), from: a),
                       [p(a, .reply(id: 1, result: .timedOut))])
        XCTAssertTrue(h.core.connections[a]!.delivered.isEmpty)
    }

    func testOneMillisecondTimeoutThenLateAndDuplicateRepliesDropped() {
        var h = CoreHarness()
        let a = h.connect("svc")
        XCTAssertEqual(h.receive(.request(id: 1, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 1), from: a),
                       [p(a, .request(id: 0, payload: s("q"), timeoutMilliseconds: 1))])
        XCTAssertEqual(h.advance(milliseconds: 0), [])
        XCTAssertEqual(h.advance(milliseconds: 1), [p(a, .reply(id: 1, result: .timedOut))])
        XCTAssertEqual(h.receive(.reply(id: 0, outcome: .success(s("late"))), from: a), [])
        // Answered in time: exactly one REPLY; the duplicate and the deadline are silent.
        h.receive(.request(id: 2, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 10), from: a)
        XCTAssertEqual(h.receive(.reply(id: 1, outcome: .success(s(""))), from: a), [p(a, .reply(id: 2, result: .success(s(""))))])
        XCTAssertEqual(h.receive(.reply(id: 1, outcome: .success(s("dup"))), from: a), [])
        XCTAssertEqual(h.receive(.reply(id: 99, outcome: .success(s("unknown"))), from: a), [])
        XCTAssertEqual(h.advance(milliseconds: 100), [])
    }

    func testEmptyFaultForwardedUnchanged() {
        var h = CoreHarness()
        let a = h.connect("svc"), c = h.connect(nil)
        h.receive(.request(id: 1, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 10), from: c)
        XCTAssertEqual(h.receive(.reply(id: 0, outcome: .fault(s(""))), from: a), [p(c, .reply(id: 1, result: .fault(s(""))))])
    }

    func testNoMemberAnywhereIsAnsweredAtOnceWithAReason() {
        var h = CoreHarness()
        let c = h.connect(nil)
        let fault = #"plexus: no members: no member of cluster "none" on any relay"#
        XCTAssertEqual(h.receive(.request(id: 1, cluster: s("none"), payload: s("q"), timeoutMilliseconds: 100), from: c),
                       [p(c, .reply(id: 1, result: .fault(s(fault))))])
        XCTAssertEqual(h.advance(milliseconds: 100), [], "nothing waits for the deadline")
        XCTAssertEqual(h.core.statistics.noMembers, 1)
        // A member that registers later is found by the next request.
        let svc = h.connect("none")
        XCTAssertEqual(h.receive(.request(id: 2, cluster: s("none"), payload: s("q"), timeoutMilliseconds: 100), from: c),
                       [p(svc, .request(id: 0, payload: s("q"), timeoutMilliseconds: 100))])
    }

    func testDrainingRelayRefusesNewRequestsAtOnceAndFinishesThoseInFlight() {
        var h = CoreHarness()
        let svc = h.connect("svc"), c = h.connect(nil)
        XCTAssertEqual(h.receive(.request(id: 1, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 100), from: c),
                       [p(svc, .request(id: 0, payload: s("q"), timeoutMilliseconds: 100))])
        h.core.startDraining()
        h.core.effects.removeAll()
        XCTAssertEqual(h.receive(.request(id: 2, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 100), from: c),
                       [p(c, .reply(id: 2, result: .fault(s("plexus: refused: relay is draining"))))])
        XCTAssertEqual(h.receive(.reply(id: 0, outcome: .success(s("a"))), from: svc),
                       [p(c, .reply(id: 1, result: .success(s("a"))))])
        XCTAssertEqual(h.core.statistics.refusedWhileDraining, 1)
    }

    func testAbsurdTimeoutIsClampedToOneHour() {
        var h = CoreHarness()
        let svc = h.connect("svc"), c = h.connect(nil)
        h.receive(.request(id: 1, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: UInt64(1) << 50), from: c)
        XCTAssertEqual(h.core.connections[svc]?.delivered.count, 1)
        XCTAssertEqual(h.advance(milliseconds: 3_600_000 - 1), [])
        XCTAssertEqual(h.advance(milliseconds: 1), [p(c, .reply(id: 1, result: .timedOut))])
    }

    func testClusterNamesBeyondTheLimitsAreRefusedWhereTheyEnter() {
        var h = CoreHarness()
        let c = h.connect(nil)
        let long = String(repeating: "n", count: 256)
        XCTAssertEqual(h.receive(.request(id: 1, cluster: s(long), payload: s("q"), timeoutMilliseconds: 100), from: c),
                       [p(c, .reply(id: 1, result: .fault(s("plexus: limit: a cluster name must be 1 to 255 bytes, got 256"))))])
        XCTAssertEqual(h.receive(.request(id: 2, cluster: s(""), payload: s("q"), timeoutMilliseconds: 100), from: c),
                       [p(c, .reply(id: 2, result: .fault(s("plexus: limit: a cluster name must be 1 to 255 bytes, got 0"))))])
    }

    func testServiceDropAnswersPendingRequestsAtOnce() {
        var h = CoreHarness()
        let a = h.connect("svc"), c = h.connect(nil)
        h.receive(.request(id: 1, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 60_000), from: c)
        h.receive(.request(id: 2, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 60_000), from: c)
        h.core.connectionClosed(a)
        let out = h.collect()
        XCTAssertEqual(Set(out.map(\.description)), Set([p(c, .reply(id: 1, result: .timedOut)), p(c, .reply(id: 2, result: .timedOut))].map(\.description)))
        XCTAssertEqual(h.advance(milliseconds: 60_000), [])
    }

    func testGracefulServiceCloseAnswersPendingAndIgnoresLaterReplies() {
        var h = CoreHarness()
        let a = h.connect("svc"), c = h.connect(nil)
        h.receive(.request(id: 1, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 1000), from: c)
        XCTAssertEqual(h.receive(.close, from: a), [p(a, .close(reason: s(""))), .close(a), p(c, .reply(id: 1, result: .timedOut))])
        XCTAssertEqual(h.receive(.reply(id: 0, outcome: .success(s("late"))), from: a), [])
    }

    func testRequesterGoneReplyDiscarded() {
        var h = CoreHarness()
        let a = h.connect("svc"), c = h.connect(nil)
        h.receive(.request(id: 1, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 1000), from: c)
        h.core.connectionClosed(c)
        XCTAssertEqual(h.collect(), [])
        XCTAssertEqual(h.receive(.reply(id: 0, outcome: .success(s("r"))), from: a), [])
        XCTAssertEqual(h.advance(milliseconds: 2000), [])
    }

    func testOverloadedServiceGetsFaultReply() {
        var h = CoreHarness { $0.outboundQueueLimitBytes = 100 }
        let a = h.connect("svc"), c = h.connect(nil)
        h.stalled.insert(a)
        let big = ByteBuffer(repeating: 7, count: 60)
        XCTAssertEqual(h.receive(.request(id: 1, cluster: s("svc"), payload: big, timeoutMilliseconds: 1000), from: c),
                       [p(a, .request(id: 0, payload: big, timeoutMilliseconds: 1000))])
        XCTAssertEqual(h.receive(.request(id: 2, cluster: s("svc"), payload: big, timeoutMilliseconds: 1000), from: c),
                       [p(c, .reply(id: 2, result: .fault(s("plexus: service overloaded"))))])
        XCTAssertEqual(h.core.statistics.overloadedRequests, ["svc": 1])
        // Once drained, requests flow again.
        _ = h.drain(a)
        XCTAssertEqual(h.receive(.request(id: 3, cluster: s("svc"), payload: big, timeoutMilliseconds: 1000), from: c),
                       [p(a, .request(id: 1, payload: big, timeoutMilliseconds: 1000))])
    }

    func testAnsweredRequestsDoNotAccumulateInTheDeadlineHeap() {
        var h = CoreHarness()
        let a = h.connect("svc")
        for i in 0..<10_000 {
            h.receive(.request(id: UInt64(i), cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 60_000), from: a)
            h.receive(.reply(id: UInt64(i), outcome: .success(s("r"))), from: a)
        }
        XCTAssertLessThanOrEqual(h.core.deadlines.count, 4096)
        // Live entries survive a sweep.
        h.receive(.request(id: 1, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 10), from: a)
        for i in 0..<3000 {
            h.receive(.request(id: UInt64(100 + i), cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 60_000), from: a)
            h.receive(.reply(id: UInt64(10_001 + i), outcome: .success(s("r"))), from: a)
        }
        XCTAssertEqual(h.advance(milliseconds: 10), [p(a, .reply(id: 1, result: .timedOut))])
    }

    func testRequesterThatNeverReadsIsClosedPastTheHardLimit() {
        var h = CoreHarness { $0.outboundQueueLimitBytes = 100 }
        let a = h.connect("svc"), c = h.connect(nil)
        h.stalled.insert(c)
        let answer = ByteBuffer(repeating: 1, count: 90)
        var closed = false
        for i in 0..<10 where !closed {
            h.receive(.request(id: UInt64(i), cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 1000), from: c)
            let out = h.receive(.reply(id: UInt64(i), outcome: .success(answer)), from: a)
            if out.contains(.close(c)) {
                closed = true
                XCTAssertEqual(i, 4, "4 replies of 95 bytes fit in 400; the 5th does not")
                XCTAssertEqual(out.first, p(c, .close(reason: s("plexus: client not reading: outbound queue over 400 bytes"))))
            }
        }
        XCTAssertTrue(closed)
        XCTAssertNil(h.core.connections[c])
    }

    func testOverloadedMemberIsSkippedWhenAnotherHasRoom() {
        var h = CoreHarness { $0.outboundQueueLimitBytes = 100 }
        let a = h.connect("svc"), b = h.connect("svc"), c = h.connect(nil)
        h.stalled.insert(a)
        let big = ByteBuffer(repeating: 7, count: 60)
        XCTAssertEqual(h.receive(.request(id: 1, cluster: s("svc"), payload: big, timeoutMilliseconds: 1000), from: c),
                       [p(a, .request(id: 0, payload: big, timeoutMilliseconds: 1000))])
        // a is full: the next two go to b (round-robin would have picked a for the second).
        XCTAssertEqual(h.receive(.request(id: 2, cluster: s("svc"), payload: big, timeoutMilliseconds: 1000), from: c),
                       [p(b, .request(id: 0, payload: big, timeoutMilliseconds: 1000))])
        XCTAssertEqual(h.receive(.request(id: 3, cluster: s("svc"), payload: big, timeoutMilliseconds: 1000), from: c),
                       [p(b, .request(id: 1, payload: big, timeoutMilliseconds: 1000))])
        h.stalled.insert(b)
        h.receive(.request(id: 4, cluster: s("svc"), payload: big, timeoutMilliseconds: 1000), from: c)
        XCTAssertEqual(h.receive(.request(id: 5, cluster: s("svc"), payload: big, timeoutMilliseconds: 1000), from: c),
                       [p(c, .reply(id: 5, result: .fault(s("plexus: service overloaded"))))])
    }
}
