import NIOCore
import PlexusMembership
import PlexusPeerWire
@testable import PlexusRelayCore
import PlexusWire
import XCTest

/// Federation in the pure core (`Docs/federation.md` §5): cores joined by `VirtualOverlay`, some of
/// them gateways (their records carry `GatewayRoute`s), on virtual time.
final class CoreFederationTests: XCTestCase {
    func federationEffects(_ outputs: [CoreHarness.Output]) -> [FederationEffect] {
        outputs.compactMap { if case .federation(let effect) = $0 { return effect } else { return nil } }
    }

    func replies(_ outputs: [CoreHarness.Output], for client: ConnectionID) -> [RequestResult] {
        outputs.compactMap { output in
            if case .reply(_, let result) = output.packet(for: client) { return result }
            return nil
        }
    }

    /// Relay `index` becomes a gateway routing `routes` (kind, overlay, name).
    func makeGateway(_ overlay: inout VirtualOverlay, _ index: Int, _ routes: [(GatewayRoute.Kind, String, String)]) {
        overlay.records[overlay.ids[index]]?.gatewayRoutes = routes.map {
            GatewayRoute(kind: $0.0, overlay: PlexusMembership.Name($0.1), name: PlexusMembership.Name($0.2))
        }.sorted()
    }

    func testRequestWithoutMemberInThisOverlayCrossesThroughTheGatewayAndBack() throws {
        var overlay = VirtualOverlay(relays: 2)
        makeGateway(&overlay, 1, [(.cluster, "eu", "echo")])
        let client = overlay.connect(0)
        overlay.publishDirectory()
        let out = overlay.receive(.request(id: 5, cluster: s("echo"), payload: s("ping"), timeoutMilliseconds: 1000),
                                  from: client, on: 0)
        guard case .request(let ticket, let cluster, let payload, let left)? = federationEffects(out[1]).first else {
            return XCTFail("the gateway hands the request to the federation: \(out)")
        }
        XCTAssertEqual(String(buffer: cluster), "echo")
        XCTAssertEqual(String(buffer: payload), "ping")
        XCTAssertEqual(left, 1000)
        let answered = overlay.on(1) { harness in
            harness.core.federationAnswered(ticket: ticket, outcome: .success(reply: s("pong")), now: harness.now)
            return harness.collect()
        }
        XCTAssertEqual(replies(answered[0], for: client), [.success(s("pong"))])
    }

    func testALocalMemberIsPreferredToAnyGateway() {
        var overlay = VirtualOverlay(relays: 3)
        makeGateway(&overlay, 1, [(.cluster, "eu", "echo")])
        let member = overlay.connect(2, "echo")
        let client = overlay.connect(0)
        overlay.publishDirectory()
        for id in UInt64(1)...20 {
            let out = overlay.receive(.request(id: id, cluster: s("echo"), payload: s("x"), timeoutMilliseconds: 1000), from: client, on: 0)
            XCTAssertEqual(out.flatMap(federationEffects), [], "no request crosses while a member here is healthy")
            XCTAssertEqual(out[2].filter { $0.packet(for: member) != nil }.count, 1)
        }
    }

    func testAFederationFailureReachesTheClientAtOnceWithItsReason() {
        var overlay = VirtualOverlay(relays: 2)
        makeGateway(&overlay, 1, [(.cluster, "eu", "echo")])
        let client = overlay.connect(0)
        let local = overlay.connect(1)
        overlay.publishDirectory()
        var out = overlay.receive(.request(id: 1, cluster: s("echo"), payload: s("x"), timeoutMilliseconds: 5000), from: client, on: 0)
        guard case .request(let remoteTicket, _, _, _)? = federationEffects(out[1]).first else { return XCTFail("\(out)") }
        out = overlay.receive(.request(id: 2, cluster: s("echo"), payload: s("y"), timeoutMilliseconds: 5000), from: local, on: 1)
        guard case .request(let localTicket, _, _, _)? = federationEffects(out[1]).first else { return XCTFail("\(out)") }
        let reason = s("plexus: gateway link to overlay eu closed")
        out = overlay.on(1) { harness in
            harness.core.federationAnswered(ticket: remoteTicket, outcome: .failed(reason: reason), now: harness.now)
            harness.core.federationAnswered(ticket: localTicket, outcome: .failed(reason: reason), now: harness.now)
            harness.core.federationAnswered(ticket: localTicket, outcome: .success(reply: s("late")), now: harness.now)
            return harness.collect()
        }
        XCTAssertEqual(replies(out[0], for: client), [.fault(reason)])
        XCTAssertEqual(replies(out[1], for: local), [.fault(reason)], "answered once")
    }

    func testNoGatewayNoMemberIsRefusedAtOnceAsBefore() {
        var overlay = VirtualOverlay(relays: 2)
        let client = overlay.connect(0)
        overlay.publishDirectory()
        let out = overlay.receive(.request(id: 1, cluster: s("echo"), payload: s("x"), timeoutMilliseconds: 1000), from: client, on: 0)
        guard case .fault? = replies(out[0], for: client).first else { return XCTFail("\(out)") }
        XCTAssertEqual(out.flatMap(federationEffects), [])
    }

    func testRequestFromAnotherOverlayReachesAMemberHereButNeverAnotherGateway() {
        var overlay = VirtualOverlay(relays: 3)
        makeGateway(&overlay, 1, [(.cluster, "eu", "echo"), (.cluster, "us", "db")])
        let member = overlay.connect(2, "echo")
        overlay.publishDirectory()
        var out = overlay.on(1) { harness in
            harness.core.federationRequest(ticket: 9, cluster: s("echo"), payload: s("q"), millisecondsLeft: 800, now: harness.now)
            return harness.collect()
        }
        guard case .request(let relayID, let payload, let timeout)? = out[2].compactMap({ $0.packet(for: member) }).first else {
            return XCTFail("\(out)")
        }
        XCTAssertEqual(String(buffer: payload), "q")
        XCTAssertEqual(timeout, 800)
        out = overlay.receive(.reply(id: relayID, outcome: .success(s("a"))), from: member, on: 2)
        XCTAssertEqual(federationEffects(out[1]), [.answer(ticket: 9, outcome: .success(reply: s("a")))])

        out = overlay.on(1) { harness in
            harness.core.federationRequest(ticket: 10, cluster: s("db"), payload: s("q"), millisecondsLeft: 800, now: harness.now)
            harness.core.federationRequest(ticket: 11, cluster: s("echo"), payload: s("q"), millisecondsLeft: 0, now: harness.now)
            return harness.collect()
        }
        let effects = federationEffects(out[1])
        XCTAssertEqual(effects.count, 2)
        guard case .answer(10, .failed)? = effects.first else { return XCTFail("db is only in another overlay: refused, not sent on: \(effects)") }
        XCTAssertEqual(effects.last, .answer(ticket: 11, outcome: .timedOut))
    }

    func testEventsAndBroadcastsGoOncePerOtherOverlayAndThoseFromElsewhereNeverCrossAgain() {
        var overlay = VirtualOverlay(relays: 3)
        makeGateway(&overlay, 1, [(.topic, "eu", "news"), (.cluster, "eu", "echo")])
        makeGateway(&overlay, 2, [(.topic, "eu", "news"), (.topic, "us", "news"), (.cluster, "eu", "echo")])
        let publisher = overlay.connect(0)
        let subscriber = overlay.connect(0)
        _ = overlay.relays[0].receive(.subscribe(topic: s("news")), from: subscriber)
        overlay.publishDirectory()

        var out = overlay.receive(.publish(topic: s("news"), event: s("e1")), from: publisher, on: 0)
        XCTAssertEqual(federationEffects(out[1]), [.publish(overlay: s("eu"), topic: s("news"), event: s("e1"), publisher: overlay.ids[0])])
        XCTAssertEqual(federationEffects(out[2]), [.publish(overlay: s("us"), topic: s("news"), event: s("e1"), publisher: overlay.ids[0])],
                       "one gateway per overlay: eu through the first, us through the only one")
        out = overlay.receive(.broadcast(cluster: s("echo"), message: s("b")), from: publisher, on: 0)
        XCTAssertEqual(out.flatMap(federationEffects), [.broadcast(overlay: s("eu"), cluster: s("echo"), message: s("b"))])

        out = overlay.on(1) { harness in
            harness.core.federationPublish(topic: s("news"), event: s("from-eu"), now: harness.now)
            harness.core.federationBroadcast(cluster: s("echo"), message: s("from-eu"), now: harness.now)
            return harness.collect()
        }
        XCTAssertEqual(out.flatMap(federationEffects), [], "traffic from another overlay is never handed to a gateway")
        XCTAssertEqual(out[0].compactMap { $0.packet(for: subscriber) }, [.publish(topic: s("news"), event: s("from-eu"))])
    }

    func testAGatewayPublishingItselfHandsOverDirectly() {
        var overlay = VirtualOverlay(relays: 1)
        makeGateway(&overlay, 0, [(.topic, "eu", "news")])
        let publisher = overlay.connect(0)
        overlay.publishDirectory()
        let out = overlay.receive(.publish(topic: s("news"), event: s("e")), from: publisher, on: 0)
        XCTAssertEqual(federationEffects(out[0]), [.publish(overlay: s("eu"), topic: s("news"), event: s("e"), publisher: overlay.ids[0])])
    }
}

extension CoreFederationTests {
    func testAnUnansweredFederationRequestTimesOutAtItsDeadline() {
        var overlay = VirtualOverlay(relays: 1)
        makeGateway(&overlay, 0, [(.cluster, "eu", "echo")])
        let client = overlay.connect(0)
        overlay.publishDirectory()
        let out = overlay.receive(.request(id: 1, cluster: s("echo"), payload: s("x"), timeoutMilliseconds: 300), from: client, on: 0)
        XCTAssertEqual(federationEffects(out[0]).count, 1)
        XCTAssertEqual(replies(overlay.advance(milliseconds: 299)[0], for: client), [])
        XCTAssertEqual(replies(overlay.advance(milliseconds: 1)[0], for: client), [.timedOut], "the core's backstop answers")
        XCTAssertEqual(overlay.relays[0].core.router.federation.pending.count, 0)
    }
}
