import NIOCore
import PlexusVocabulary
@testable import PlexusRelayCore
import PlexusPeerWire
import PlexusWire
import PlexusTelemetry
import XCTest

/// Cross-relay routing in the pure core: several cores joined by `VirtualOverlay`, virtual time.
final class CoreOverlayRoutingTests: XCTestCase {
    /// The one request a member got, as (relay request id, payload).
    func requests(in outputs: [CoreHarness.Output], for member: ConnectionID) -> [(UInt64, String)] {
        outputs.compactMap { output in
            if case .request(let id, let payload, _) = output.packet(for: member) { return (id, String(buffer: payload)) }
            return nil
        }
    }

    func replies(in outputs: [CoreHarness.Output], for client: ConnectionID) -> [RequestResult] {
        outputs.compactMap { output in
            if case .reply(_, let result) = output.packet(for: client) { return result }
            return nil
        }
    }

    func testRequestReplyAndFaultCrossRelays() {
        var overlay = VirtualOverlay(relays: 2)
        let member = overlay.connect(1, "echo")
        let client = overlay.connect(0)
        overlay.publishDirectory()
        var out = overlay.receive(.request(id: 5, cluster: s("echo"), payload: s("ping"), timeoutMilliseconds: 1000),
                                  from: client, on: 0)
        let delivered = requests(in: out[1], for: member)
        XCTAssertEqual(delivered.map(\.1), ["ping"])
        XCTAssertEqual(out[1].compactMap { $0.packet(for: member) }.first,
                       .request(id: delivered[0].0, payload: s("ping"), timeoutMilliseconds: 1000),
                       "the member sees the time that was left")
        out = overlay.receive(.reply(id: delivered[0].0, outcome: .success(s("pong"))), from: member, on: 1)
        XCTAssertEqual(out[0], [p(client, .reply(id: 5, result: .success(s("pong"))))])

        out = overlay.receive(.request(id: 6, cluster: s("echo"), payload: s("x"), timeoutMilliseconds: 1000),
                              from: client, on: 0)
        let second = requests(in: out[1], for: member)[0].0
        out = overlay.receive(.reply(id: second, outcome: .fault(s("boom"))), from: member, on: 1)
        XCTAssertEqual(out[0], [p(client, .reply(id: 6, result: .fault(s("boom"))))])
        XCTAssertEqual(overlay.relays[0].core.router.forwarded.count, 0)
    }

    func testUnansweredRequestTimesOutExactlyOnce() {
        var overlay = VirtualOverlay(relays: 2)
        _ = overlay.connect(1, "slow")
        let client = overlay.connect(0)
        overlay.publishDirectory()
        overlay.receive(.request(id: 1, cluster: s("slow"), payload: s("x"), timeoutMilliseconds: 300), from: client, on: 0)
        XCTAssertEqual(replies(in: overlay.advance(milliseconds: 299)[0], for: client), [])
        XCTAssertEqual(replies(in: overlay.advance(milliseconds: 1)[0], for: client), [.timedOut])
        XCTAssertEqual(replies(in: overlay.advance(milliseconds: 1000)[0], for: client), [])
    }

    func testExpiredRequestIsNotDelivered() {
        var overlay = VirtualOverlay(relays: 2)
        let member = overlay.connect(1, "echo")
        overlay.publishDirectory()
        let out = overlay.on(1) { harness in
            harness.core.receivePeer(.request(id: 9, cluster: s("echo"), millisecondsLeft: 0, payload: s("late")),
                                     from: NodeID(high: 0, low: 1), now: harness.now)
            return harness.collect()
        }
        XCTAssertEqual(out[1].compactMap { $0.packet(for: member) }, [])
        XCTAssertEqual(overlay.relays[1].core.effects.count, 0)
        XCTAssertEqual(overlay.outputs[1].count, 0, "only the timed-out REPLY frame left relay 1")
    }

    func testRelayFailureFailsPendingRequestsAtOnceAndNewOnesGoElsewhere() {
        var overlay = VirtualOverlay(relays: 3)
        let b = overlay.connect(1, "svc")
        let c = overlay.connect(2, "svc")
        let client = overlay.connect(0)
        overlay.publishDirectory()
        var onB = 0
        for id in 0..<100 {
            let out = overlay.receive(.request(id: UInt64(id), cluster: s("svc"), payload: s("x"), timeoutMilliseconds: 30_000),
                                      from: client, on: 0)
            onB += requests(in: out[1], for: b).count
        }
        XCTAssertGreaterThan(onB, 0)
        let out = overlay.peerFailed(overlay.ids[1], seenBy: 0)
        XCTAssertEqual(replies(in: out[0], for: client), Array(repeating: .timedOut, count: onB),
                       "every request pending on the failed relay is answered now, not at its deadline")
        let traffic = overlay.relays[0].core.statistics.traffic
        XCTAssertEqual(traffic.requests(.failed), UInt64(onB), "the metrics count them as failed, not timed out")
        XCTAssertEqual(traffic.requests(.timedOut), 0)
        overlay.down.insert(overlay.ids[1])
        for id in 100..<120 {
            let out = overlay.receive(.request(id: UInt64(id), cluster: s("svc"), payload: s("y"), timeoutMilliseconds: 30_000),
                                      from: client, on: 0)
            XCTAssertEqual(requests(in: out[2], for: c).count, 1, "a new request goes to the surviving relay")
        }
    }

    func testThousandRequestsSplitBetweenTwoRelays() {
        var overlay = VirtualOverlay(relays: 3)
        let b = overlay.connect(1, "svc")
        let c = overlay.connect(2, "svc")
        let client = overlay.connect(0)
        overlay.publishDirectory()
        var counts = [0, 0]
        for id in 0..<1000 {
            var out = overlay.receive(.request(id: UInt64(id), cluster: s("svc"), payload: s("x"), timeoutMilliseconds: 5000),
                                      from: client, on: 0)
            for (relay, member) in [(1, b), (2, c)] {
                for (relayID, _) in requests(in: out[relay], for: member) {
                    counts[relay - 1] += 1
                    out = overlay.receive(.reply(id: relayID, outcome: .success(s("ok"))), from: member, on: relay)
                    XCTAssertEqual(replies(in: out[0], for: client), [.success(s("ok"))])
                }
            }
        }
        XCTAssertEqual(counts[0] + counts[1], 1000)
        XCTAssertTrue((400...600).contains(counts[0]), "split \(counts)")
    }

    func testLocalMembersFirstThenSameZone() {
        var overlay = VirtualOverlay(relays: 3, zones: ["a", "a", "b"])
        let remoteSameZone = overlay.connect(1, "svc")
        let remoteOtherZone = overlay.connect(2, "svc")
        let client = overlay.connect(0)
        overlay.publishDirectory()
        for id in 0..<16 {
            let out = overlay.receive(.request(id: UInt64(id), cluster: s("svc"), payload: s("x"), timeoutMilliseconds: 5000),
                                      from: client, on: 0)
            XCTAssertEqual(requests(in: out[1], for: remoteSameZone).count, 1)
            XCTAssertEqual(requests(in: out[2], for: remoteOtherZone).count, 0)
        }
        // The same-zone relay is now saturated (16 in flight = its advertised capacity): overflow to the next tier.
        let out = overlay.receive(.request(id: 99, cluster: s("svc"), payload: s("x"), timeoutMilliseconds: 5000),
                                  from: client, on: 0)
        XCTAssertEqual(requests(in: out[2], for: remoteOtherZone).count, 1)

        let local = overlay.connect(0, "svc")
        overlay.publishDirectory()
        let localOut = overlay.receive(.request(id: 100, cluster: s("svc"), payload: s("x"), timeoutMilliseconds: 5000),
                                       from: client, on: 0)
        XCTAssertEqual(requests(in: localOut[0], for: local).count, 1, "a local member is preferred")
    }

    func testBroadcastReachesEveryMemberOnEveryRelayOnce() {
        var overlay = VirtualOverlay(relays: 3)
        let members = [(0, overlay.connect(0, "all")), (1, overlay.connect(1, "all")), (1, overlay.connect(1, "all")),
                       (2, overlay.connect(2, "all"))]
        let sender = overlay.connect(2)
        overlay.publishDirectory()
        let out = overlay.receive(.broadcast(cluster: s("all"), message: s("hi")), from: sender, on: 2)
        for (relay, member) in members {
            XCTAssertEqual(out[relay].compactMap { $0.packet(for: member) }, [.broadcast(message: s("hi"))])
        }
    }

    func testEventsReachEachSubscriberOnceAndInOrder() {
        var overlay = VirtualOverlay(relays: 3)
        let subscribers = [(1, overlay.connect(1)), (1, overlay.connect(1)), (2, overlay.connect(2)), (2, overlay.connect(2))]
        for (relay, id) in subscribers { overlay.receive(.subscribe(topic: s("t")), from: id, on: relay) }
        let publisher = overlay.connect(0)
        overlay.publishDirectory()
        for n in 0..<100 { overlay.receive(.publish(topic: s("t"), event: s("e\(n)")), from: publisher, on: 0) }
        for (relay, id) in subscribers {
            let events = overlay.outputs[relay].compactMap { output -> String? in
                if case .publish(_, let event) = output.packet(for: id) { return String(buffer: event) }
                return nil
            }
            XCTAssertEqual(events, (0..<100).map { "e\($0)" })
        }
        XCTAssertEqual(overlay.relays[0].core.counters.droppedEvents, [:])
    }

    func testFullRelayQueuePausesThePublisherThenDropsAndCounts() {
        var overlay = VirtualOverlay(relays: 2, peerQueueLimitBytes: 10_000)
        let subscriber = overlay.connect(1)
        overlay.receive(.subscribe(topic: s("t")), from: subscriber, on: 1)
        let publisher = overlay.connect(0)
        overlay.publishDirectory()
        overlay.relays[0].stalledPeers.insert(overlay.ids[1])
        let event = ByteBuffer(repeating: 1, count: 1000)
        var paused = 0
        for _ in 0..<30 {
            let out = overlay.on(0) { harness in
                harness.receive(.publish(topic: s("t"), event: event), from: publisher)
            }
            paused += out[0].filter { $0 == .pause(publisher) }.count
        }
        XCTAssertEqual(paused, 1, "the publisher is paused once the relay's queue passes its bound")
        let queued = overlay.relays[0].core.router.queuedBytes(to: overlay.ids[1])
        XCTAssertLessThanOrEqual(queued, 2 * 10_000, "the queue toward a relay never passes twice its bound")
        XCTAssertGreaterThan(overlay.relays[0].core.counters.droppedEvents.values.reduce(0, +), 0, "the rest is counted")
        let relay1 = overlay.ids[1]
        let resumed = overlay.on(0) { harness in harness.drainPeer(relay1) }
        XCTAssertTrue(resumed[0].contains(.resume(publisher)))
    }

    func testDrainingRelayGetsNoNewRequests() {
        var overlay = VirtualOverlay(relays: 3)
        let b = overlay.connect(1, "svc")
        let c = overlay.connect(2, "svc")
        let client = overlay.connect(0)
        overlay.publishDirectory()
        let relay1 = overlay.ids[1]
        overlay.on(0) { harness in
            harness.core.receivePeer(.departure(.draining), from: relay1, now: harness.now)
            return harness.collect()
        }
        for id in 0..<50 {
            let out = overlay.receive(.request(id: UInt64(id), cluster: s("svc"), payload: s("x"), timeoutMilliseconds: 5000),
                                      from: client, on: 0)
            XCTAssertEqual(requests(in: out[1], for: b).count, 0)
            XCTAssertEqual(requests(in: out[2], for: c).count, 1)
        }
    }

    func testMessageTooLargeForARelayIsRefusedLocallyNotSent() {
        var overlay = VirtualOverlay(relays: 2)
        _ = overlay.connect(1, "svc")
        let client = overlay.connect(0)
        overlay.publishDirectory()
        let huge = ByteBuffer(repeating: 0, count: RelayCore.maxForwardedMessageBytes + 1)
        let out = overlay.receive(.request(id: 1, cluster: s("svc"), payload: huge, timeoutMilliseconds: 1000), from: client, on: 0)
        XCTAssertEqual(out[0], [p(client, .reply(id: 1, result: .fault(s(RelayCore.tooLargeToForwardFault))))])
        XCTAssertEqual(out[1], [], "nothing reached the other relay")
    }
}
