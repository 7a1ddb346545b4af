import NIOCore
@testable import PlexusRelayCore
import PlexusWire
import XCTest

/// Broadcast and publish/subscribe on virtual time.
final class CoreFanoutTests: XCTestCase {
    func testBroadcastToAllMembersIncludingSenderNeverPlainClients() {
        var h = CoreHarness()
        let a = h.connect("svc"), b = h.connect("svc"), plain = h.connect(nil), other = h.connect("other")
        XCTAssertEqual(h.receive(.broadcast(cluster: s("svc"), message: s("m")), from: a),
                       [p(a, .broadcast(message: s("m"))), p(b, .broadcast(message: s("m")))])
        XCTAssertEqual(h.receive(.broadcast(cluster: s("svc"), message: s("n")), from: plain),
                       [p(a, .broadcast(message: s("n"))), p(b, .broadcast(message: s("n")))])
        XCTAssertEqual(h.receive(.broadcast(cluster: s("nobody"), message: s("n")), from: other), [])
    }

    func testNamesAreComparedByteForByte() {
        var h = CoreHarness()
        // "é" precomposed vs decomposed: equal as Swift Strings, different as bytes.
        let a = h.connect("caf\u{E9}")
        XCTAssertEqual(h.receive(.broadcast(cluster: s("cafe\u{301}"), message: s("m")), from: a), [])
        XCTAssertEqual(h.receive(.broadcast(cluster: s("caf\u{E9}"), message: s("m")), from: a), [p(a, .broadcast(message: s("m")))])
    }

    func testPublishIncludesPublisherAndDuplicateOrUnknownOpsAreNoOps() {
        var h = CoreHarness()
        let a = h.connect(nil), b = h.connect("svc")
        XCTAssertEqual(h.receive(.subscribe(topic: s("t")), from: a), [])
        XCTAssertEqual(h.receive(.subscribe(topic: s("t")), from: a), [])
        XCTAssertEqual(h.receive(.unsubscribe(topic: s("unknown")), from: a), [])
        XCTAssertEqual(h.receive(.subscribe(topic: s("t")), from: b), [])
        XCTAssertEqual(h.receive(.publish(topic: s("t"), event: s("e")), from: a),
                       [p(a, .publish(topic: s("t"), event: s("e"))), p(b, .publish(topic: s("t"), event: s("e")))])
        XCTAssertEqual(h.receive(.unsubscribe(topic: s("t")), from: a), [])
        XCTAssertEqual(h.receive(.unsubscribe(topic: s("t")), from: a), [])
        XCTAssertEqual(h.receive(.publish(topic: s("t"), event: s("f")), from: a), [p(b, .publish(topic: s("t"), event: s("f")))])
        XCTAssertEqual(h.receive(.publish(topic: s("none"), event: s("f")), from: a), [])
    }

    func testFullQueueDropsAndCountsPerName() {
        var h = CoreHarness { $0.outboundQueueLimitBytes = 50 }
        let slow = h.connect("svc"), fast = h.connect("svc")
        h.receive(.subscribe(topic: s("t")), from: slow)
        h.receive(.subscribe(topic: s("t")), from: fast)
        h.stalled.insert(slow)
        let payload = ByteBuffer(repeating: 1, count: 20)
        var slowGot = 0, fastGot = 0
        for _ in 0..<10 {
            for out in h.receive(.publish(topic: s("t"), event: payload), from: fast) + h.receive(.broadcast(cluster: s("svc"), message: payload), from: fast) {
                if case .packet(let id, _) = out { if id == slow { slowGot += 1 } else { fastGot += 1 } }
            }
        }
        XCTAssertEqual(fastGot, 20)
        XCTAssertEqual(slowGot, 2) // 24 + 22 bytes fit in 50
        XCTAssertLessThanOrEqual(h.core.queuedBytes(of: slow), 50)
        let stats = h.core.statistics
        XCTAssertEqual(stats.droppedEvents, ["t": 9])
        XCTAssertEqual(stats.droppedBroadcasts, ["svc": 9])
        XCTAssertEqual(stats.lostEvents, ["slow-consumer": 9])
        XCTAssertEqual(stats.lostBroadcasts, ["slow-consumer": 9])
        XCTAssertEqual(stats.peakConnectionQueuedBytes, 46)
        // Per-sender FIFO: after draining, delivery resumes in order.
        _ = h.drain(slow)
        XCTAssertEqual(h.receive(.publish(topic: s("t"), event: s("next")), from: fast),
                       [p(slow, .publish(topic: s("t"), event: s("next"))), p(fast, .publish(topic: s("t"), event: s("next")))])
    }

    func testSubscriptionKeyIsACompactCopy() {
        var h = CoreHarness()
        let a = h.connect(nil)
        var big = ByteBuffer(repeating: 0, count: 100_000)
        big.writeString("topic")
        let slice = big.getSlice(at: 100_000, length: 5)!
        h.receive(.subscribe(topic: slice), from: a)
        let stored = h.core.connections[a]!.subscriptions.first!
        XCTAssertEqual(stored.bytes, s("topic"))
        XCTAssertLessThan(stored.bytes.capacity, 1000)
        // Another subscriber leaves through a slice: the table's key stays the compact copy.
        let b = h.connect(nil)
        h.receive(.subscribe(topic: s("topic")), from: b)
        h.receive(.unsubscribe(topic: slice), from: b)
        XCTAssertEqual(h.core.routes.topicNames.map(\.bytes.capacity).max()! < 1000, true)
        XCTAssertEqual(h.core.routes.subscribers(of: WireName(s("topic"))), [.local(a)])
    }
}
