import NIOCore
import PlexusMembership
import PlexusPeerWire
@testable import PlexusRelayCore
import PlexusVocabulary
import PlexusWire
import XCTest

/// The relay core's part of tunnels across overlays (`Docs/federation.md` §4, tunnels): what it
/// hands to the gateway next to it and what it does with what the gateway hands back.
final class CoreFederatedTunnelTests: XCTestCase {
    func tunnelFrames(_ outputs: [CoreHarness.Output]) -> [(PeerFrame, NodeID)] {
        outputs.compactMap { if case .federation(.tunnelFrame(let frame, let relay)) = $0 { return (frame, relay) } else { return nil } }
    }

    func makeGateway(_ overlay: inout VirtualOverlay, _ index: Int, routes cluster: String) {
        overlay.records[overlay.ids[index]]?.gatewayRoutes = [GatewayRoute(kind: .cluster, overlay: PlexusMembership.Name("eu"),
                                                                            name: PlexusMembership.Name(cluster))]
    }

    func testATunnelWithoutMemberHereGoesToTheGatewayWhichHandsItOver() {
        var overlay = VirtualOverlay(relays: 2)
        makeGateway(&overlay, 1, routes: "far")
        let client = overlay.connect(0)
        overlay.publishDirectory()
        var out = overlay.receive(.tunnelInit(id: 3, cluster: s("far"), timeoutMilliseconds: 1000), from: client, on: 0)
        let handed = tunnelFrames(out[1])
        guard case (.tunnelInit(let relayID, let cluster, 1000), overlay.ids[0])? = handed.first, handed.count == 1 else {
            return XCTFail("the gateway relay hands the construction to its gateway: \(out)")
        }
        XCTAssertEqual(String(buffer: cluster), "far")

        // The gateway's confirmation (its id has the bit) goes back to relay 0, which links the tunnel.
        let gatewayID = FederatedTunnels.idBit | 1
        let relay0 = overlay.ids[0]
        out = overlay.on(1) { harness in
            harness.core.federationTunnelFrame(.tunnelConfirm(initiatorTunnelID: relayID, acceptorTunnelID: gatewayID, chunkLimit: 4096),
                                               relay: relay0, now: harness.now)
            return harness.collect()
        }
        XCTAssertTrue(out[0].contains { $0.packet(for: client) == .tunnelResult(id: 3, chunkLimit: 4096) }, "\(out[0])")
        // Relay 0 grants the window to the gateway id: relay 1 hands it over, untouched by its own core.
        let grants = tunnelFrames(out[1])
        guard case (.tunnelAllow(gatewayID, _), overlay.ids[0])? = grants.first else { return XCTFail("\(out[1])") }

        out = overlay.on(1) { harness in
            harness.core.federationTunnelFrame(.tunnelAllow(tunnelID: relayID, bytes: 100), relay: relay0, now: harness.now)
            return harness.collect()
        }
        out = overlay.receive(.tunnelTransfer(id: 3, sizeOrContinuation: 2, chunk: s("hi")), from: client, on: 0)
        guard case (.tunnelTransfer(gatewayID, 2, let chunk), overlay.ids[0])? = tunnelFrames(out[1]).first else { return XCTFail("\(out)") }
        XCTAssertEqual(String(buffer: chunk), "hi")
    }

    func testATunnelFromAnotherOverlayReachesAMemberOnAnotherRelayAndItsAnswersComeBack() {
        var overlay = VirtualOverlay(relays: 3)
        makeGateway(&overlay, 1, routes: "unrelated")
        let member = overlay.connect(2, "echo")
        overlay.publishDirectory()
        let gatewayID = FederatedTunnels.idBit | 7
        var out = overlay.on(1) { harness in
            harness.core.federationTunnelFrame(.tunnelInit(tunnelID: gatewayID, cluster: s("echo"), millisecondsLeft: 1000),
                                               relay: FederatedTunnels.gatewayNode, now: harness.now)
            return harness.collect()
        }
        guard case .tunnelOffer(let buildID, _)? = out[2].compactMap({ $0.packet(for: member) }).first else {
            return XCTFail("relay 1 passes the construction on to the member's relay: \(out)")
        }
        out = overlay.receive(.tunnelConfirm(buildID: buildID, tunnelID: 9), from: member, on: 2)
        let handed = tunnelFrames(out[1])
        guard case (.tunnelConfirm(gatewayID, _, _), overlay.ids[2])? = handed.first else {
            return XCTFail("relay 2's confirmation, naming the gateway's id, is handed to the gateway: \(out)")
        }
        // Relay 2 fails: the gateway is told.
        out = overlay.peerFailed(overlay.ids[2], seenBy: 1)
        XCTAssertTrue(out[1].contains { if case .federation(.relayFailed(overlay.ids[2])) = $0 { true } else { false } }, "\(out[1])")
    }

    func testATunnelFromAnotherOverlayWithNoMemberIsRefusedToTheGateway() {
        var overlay = VirtualOverlay(relays: 2)
        makeGateway(&overlay, 1, routes: "far")
        overlay.publishDirectory()
        let out = overlay.on(1) { harness in
            harness.core.federationTunnelFrame(.tunnelInit(tunnelID: FederatedTunnels.idBit, cluster: s("far"), millisecondsLeft: 1000),
                                               relay: FederatedTunnels.gatewayNode, now: harness.now)
            return harness.collect()
        }
        guard case (.tunnelRefuse(FederatedTunnels.idBit, _), FederatedTunnels.gatewayNode)? = tunnelFrames(out[1]).first else {
            return XCTFail("never passed to another overlay again (no loops): refused: \(out)")
        }
    }
}

/// A request from another overlay that a relay of this overlay answers `failed` keeps its reason
/// (`Docs/federation.md` §6): the federation gets `failed(reason)`, and the far client a fault.
final class CoreFederationFailedReplyTests: XCTestCase {
    func testAFailedReplyFromAnotherRelayReachesTheFederationWithItsReason() {
        var overlay = VirtualOverlay(relays: 2)
        let member = overlay.connect(1, "echo")
        overlay.publishDirectory()
        // The member leaves; relay 0's directory still lists relay 1 for echo.
        _ = overlay.on(1) { harness in
            harness.core.connectionClosed(member)
            return harness.collect()
        }
        let out = overlay.on(0) { harness in
            harness.core.federationRequest(ticket: 9, cluster: s("echo"), payload: s("x"), millisecondsLeft: 1000, now: harness.now)
            return harness.collect()
        }
        let answers = out[0].compactMap { output -> PeerReplyOutcome? in
            if case .federation(.answer(9, let outcome)) = output { return outcome } else { return nil }
        }
        guard case .failed(let reason)? = answers.first, answers.count == 1 else {
            return XCTFail("answered once, failed with the reason, not timed out: \(out)")
        }
        XCTAssertTrue(String(buffer: reason).contains("no member"), String(buffer: reason))
    }
}

/// Spliced tunnel frames toward a relay are paced by the queue's soft bound like the core's own
/// tunnel chunks: what does not fit waits on the gateway relay, in order, and goes when it drains.
final class CoreSplicedTunnelPacingTests: XCTestCase {
    func testSplicedFramesWaitForRoomAndKeepTheirOrder() {
        var harness = CoreHarness()
        let relay = NodeID(high: 0, low: 0xa)
        harness.stalledPeers.insert(relay)
        let chunk = ByteBuffer(repeating: 0x61, count: 1 << 20)
        var sent: [PeerFrame] = []
        for index in 0..<12 {
            harness.core.federationTunnelFrame(.tunnelTransfer(tunnelID: 5, sizeOrContinuation: UInt64(index), chunk: chunk),
                                               relay: relay, now: harness.now)
            sent += harness.collect().compactMap { if case .peer(relay, let frame, _) = $0 { return frame } else { return nil } }
        }
        harness.core.federationTunnelFrame(.tunnelClose(tunnelID: 5, reason: ByteBuffer()), relay: relay, now: harness.now)
        sent += harness.collect().compactMap { if case .peer(relay, let frame, _) = $0 { return frame } else { return nil } }
        XCTAssertEqual(sent.count, 7, "what fits under the 8 MiB soft bound with framing goes; the rest waits here")
        sent += harness.drainPeer(relay).compactMap { if case .peer(relay, let frame, _) = $0 { return frame } else { return nil } }
        let sizes = sent.compactMap { frame -> UInt64? in
            if case .tunnelTransfer(5, let size, _) = frame { return size } else { return nil }
        }
        XCTAssertEqual(sizes, (0..<12).map(UInt64.init), "every chunk, in order")
        XCTAssertEqual(sent.last, .tunnelClose(tunnelID: 5, reason: ByteBuffer()), "the close after the data")
    }
}
