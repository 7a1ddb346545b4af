import NIOCore
import PlexusFederation
import PlexusPeerWire
import PlexusVocabulary
import XCTest

/// Tunnels spliced through a `GatewayRouter` on virtual time: ids renamed, frames passed on in
/// order, nothing buffered, both ends closed with a reason on link or relay loss.
final class GatewayRouterTunnelTests: XCTestCase {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let home = OverlayName("home")!
    let euLink = GatewayLinkID(1)
    let relayA = NodeID(high: 0, low: 0xa)
    let relayD = NodeID(high: 0, low: 0xd)

    func makeRouter(queueLimit: Int = 8 * 1024 * 1024) -> GatewayRouter {
        var settings = GatewayRouterSettings(overlay: home, gateway: NodeID(high: 0, low: 1))
        settings.linkQueueLimitBytes = queueLimit
        var router = GatewayRouter(settings: settings)
        _ = router.linkOpened(euLink, now: start)
        _ = router.receive(.hello(version: 1, overlay: eu, gateway: NodeID(high: 9, low: 9)), on: euLink, now: start)
        _ = router.receive(.interest(GatewayInterest(version: 1, kind: .full, changes: [.addCluster("echo")])), on: euLink, now: start)
        router.written(100, on: euLink)
        return router
    }

    /// Relay A opens tunnel 5 to "echo", served in eu; eu's gateway confirms with its id 77.
    func openFromRelay(_ router: inout GatewayRouter) -> UInt64 {
        let sent = router.tunnelFromRelay(.tunnelInit(tunnelID: 5, cluster: text("echo"), millisecondsLeft: 1000), relay: relayA, now: start)
        guard case .send(euLink, .tunnelInit(let id, let cluster, 1000))? = sent.first, sent.count == 1 else {
            XCTFail("TUNNEL_INIT on the link: \(sent)")
            return 0
        }
        XCTAssertEqual(cluster, text("echo"))
        XCTAssertNotEqual(id & FederatedTunnels.idBit, 0, "gateway ids carry the bit the relay core recognises")
        XCTAssertEqual(router.receive(.tunnelConfirm(initiatorTunnelID: id, acceptorTunnelID: 77, chunkLimit: 65536), on: euLink, now: start),
                       [.tunnelToRelay(relayA, .tunnelConfirm(initiatorTunnelID: 5, acceptorTunnelID: id, chunkLimit: 65536))])
        return id
    }

    func testInitiatingSideRenamesIdsAndKeepsOrder() {
        var router = makeRouter()
        let id = openFromRelay(&router)
        XCTAssertEqual(router.tunnelFromRelay(.tunnelAllow(tunnelID: id, bytes: 4096), relay: relayA, now: start),
                       [.send(euLink, .tunnelAllow(tunnelID: 77, bytes: 4096))])
        var toLink: [GatewayAction] = []
        var toRelay: [GatewayAction] = []
        for index in 0..<50 {
            toLink += router.tunnelFromRelay(.tunnelTransfer(tunnelID: id, sizeOrContinuation: 0, chunk: text("out\(index)")),
                                             relay: relayA, now: start)
            toRelay += router.receive(.tunnelTransfer(tunnelID: id, sizeOrContinuation: 0, chunk: text("in\(index)")), on: euLink, now: start)
        }
        XCTAssertEqual(toLink, (0..<50).map { .send(euLink, .tunnelTransfer(tunnelID: 77, sizeOrContinuation: 0, chunk: text("out\($0)"))) })
        XCTAssertEqual(toRelay, (0..<50).map { .tunnelToRelay(relayA, .tunnelTransfer(tunnelID: 5, sizeOrContinuation: 0, chunk: text("in\($0)"))) })
        XCTAssertEqual(router.status.first?.tunnels, 1)
        // A frame from another relay, or naming another id, is ignored.
        XCTAssertEqual(router.tunnelFromRelay(.tunnelTransfer(tunnelID: id, sizeOrContinuation: 0, chunk: text("x")), relay: relayD, now: start), [])
        XCTAssertEqual(router.receive(.tunnelAllow(tunnelID: id + 1, bytes: 1), on: euLink, now: start), [])
        // Graceful close from the relay side reaches the link, once.
        XCTAssertEqual(router.tunnelFromRelay(.tunnelClose(tunnelID: id, reason: ByteBuffer()), relay: relayA, now: start),
                       [.send(euLink, .tunnelClose(tunnelID: 77, reason: ByteBuffer()))])
        XCTAssertEqual(router.tunnelFromRelay(.tunnelClose(tunnelID: id, reason: ByteBuffer()), relay: relayA, now: start), [])
        XCTAssertEqual(router.status.first?.tunnels, 0)
    }

    func testAcceptingSideOpensInTheRelayAndLearnsTheRelayFromItsConfirm() {
        var router = makeRouter()
        let open = router.receive(.tunnelInit(tunnelID: 40, cluster: text("echo"), millisecondsLeft: 500), on: euLink, now: start)
        guard case .openTunnel(let id, let cluster, 500)? = open.first, open.count == 1 else { return XCTFail("\(open)") }
        XCTAssertEqual(cluster, text("echo"))
        // The relay core passed it on to relay D, whose confirmation names our id.
        XCTAssertEqual(router.tunnelFromRelay(.tunnelConfirm(initiatorTunnelID: id, acceptorTunnelID: 3, chunkLimit: 2 << 20), relay: relayD, now: start),
                       [.send(euLink, .tunnelConfirm(initiatorTunnelID: 40, acceptorTunnelID: id, chunkLimit: 1 << 20))],
                       "the chunk limit is capped at what a gateway TRANSFER may carry")
        XCTAssertEqual(router.receive(.tunnelAllow(tunnelID: id, bytes: 10), on: euLink, now: start),
                       [.tunnelToRelay(relayD, .tunnelAllow(tunnelID: 3, bytes: 10))])
        XCTAssertEqual(router.tunnelFromRelay(.tunnelTransfer(tunnelID: id, sizeOrContinuation: 1, chunk: text("z")), relay: relayD, now: start),
                       [.send(euLink, .tunnelTransfer(tunnelID: 40, sizeOrContinuation: 1, chunk: text("z")))])
        // Relay D fails: the other overlay's end is closed with the reason.
        let failed = router.relayFailed(relayD)
        guard case .send(euLink, .tunnelClose(40, let reason))? = failed.first, failed.count == 1 else { return XCTFail("\(failed)") }
        XCTAssertTrue(String(buffer: reason).contains("failed"), String(buffer: reason))
        XCTAssertEqual(router.relayFailed(relayD), [])
    }

    func testLinkLossClosesTheRelaySideWithTheReason() {
        var router = makeRouter()
        let id = openFromRelay(&router)
        let pendingOpen = router.tunnelFromRelay(.tunnelInit(tunnelID: 6, cluster: text("echo"), millisecondsLeft: 1000), relay: relayA, now: start)
        XCTAssertEqual(pendingOpen.count, 1)
        let closed = router.linkClosed(euLink, now: start).filter { if case .tunnelToRelay = $0 { true } else { false } }
        let reason = text("plexus: gateway link to overlay eu closed")
        XCTAssertEqual(closed, [.tunnelToRelay(relayA, .tunnelClose(tunnelID: 5, reason: reason)),
                                .tunnelToRelay(relayA, .tunnelRefuse(initiatorTunnelID: 6, reason: reason))])
        XCTAssertEqual(router.tunnelFromRelay(.tunnelTransfer(tunnelID: id, sizeOrContinuation: 0, chunk: text("x")), relay: relayA, now: start), [])
    }

    func testRefusalsAndDeadlines() {
        var router = makeRouter()
        let none = router.tunnelFromRelay(.tunnelInit(tunnelID: 8, cluster: text("nothing"), millisecondsLeft: 1000), relay: relayA, now: start)
        XCTAssertEqual(none, [.tunnelToRelay(relayA, .tunnelRefuse(initiatorTunnelID: 8, reason: text(GatewayRouter.Refusal.noRemoteMember.reason)))])

        // Initiating side: no CONFIRM by the deadline → the relay is refused; a late CONFIRM closes the far end.
        let sent = router.tunnelFromRelay(.tunnelInit(tunnelID: 9, cluster: text("echo"), millisecondsLeft: 300), relay: relayA, now: start)
        guard case .send(_, .tunnelInit(let id, _, _))? = sent.first else { return XCTFail("\(sent)") }
        XCTAssertEqual(router.nextDeadline.map { $0 <= start + .milliseconds(300) }, true)
        let expired = router.tick(now: start + .milliseconds(300)).filter { if case .tunnelToRelay = $0 { true } else { false } }
        XCTAssertEqual(expired.count, 1)
        guard case .tunnelToRelay(relayA, .tunnelRefuse(9, _))? = expired.first else { return XCTFail("\(expired)") }
        let late = router.receive(.tunnelConfirm(initiatorTunnelID: id, acceptorTunnelID: 55, chunkLimit: 100), on: euLink, now: start + .seconds(1))
        guard case .send(euLink, .tunnelClose(55, _))? = late.first else { return XCTFail("\(late)") }

        // Accepting side: the relay never confirms → the link is refused; a late relay CONFIRM is closed.
        let open = router.receive(.tunnelInit(tunnelID: 41, cluster: text("echo"), millisecondsLeft: 200), on: euLink, now: start)
        guard case .openTunnel(let acceptID, _, _)? = open.first else { return XCTFail("\(open)") }
        let refused = router.tick(now: start + .seconds(2)).filter { if case .send(_, .tunnelRefuse) = $0 { true } else { false } }
        guard case .send(euLink, .tunnelRefuse(41, _))? = refused.first else { return XCTFail("\(refused)") }
        let lateRelay = router.tunnelFromRelay(.tunnelConfirm(initiatorTunnelID: acceptID, acceptorTunnelID: 4, chunkLimit: 100), relay: relayD,
                                               now: start + .seconds(3))
        guard case .tunnelToRelay(relayD, .tunnelClose(4, _))? = lateRelay.first else { return XCTFail("\(lateRelay)") }
        // An expired construction from the other overlay is refused at once.
        let zero = router.receive(.tunnelInit(tunnelID: 42, cluster: text("echo"), millisecondsLeft: 0), on: euLink, now: start)
        guard case .send(euLink, .tunnelRefuse(42, _))? = zero.first else { return XCTFail("\(zero)") }
    }

    func testTunnelDataPassesAFullQueueBoundedByCreditNotByTheLinkBound() {
        var router = makeRouter(queueLimit: 64)
        let id = openFromRelay(&router)
        let big = ByteBuffer(repeating: 1, count: 200)
        XCTAssertEqual(router.tunnelFromRelay(.tunnelTransfer(tunnelID: id, sizeOrContinuation: 0, chunk: big), relay: relayA, now: start).count, 1)
        XCTAssertEqual(router.tunnelFromRelay(.tunnelTransfer(tunnelID: id, sizeOrContinuation: 0, chunk: big), relay: relayA, now: start).count, 1,
                       "within the credit the far end granted, tunnel data is never refused (that would break the stream)")
        XCTAssertEqual(router.publish(topic: "t", event: big, publisher: relayA, origin: .localOverlay), [], "nobody wants t")
    }
}
