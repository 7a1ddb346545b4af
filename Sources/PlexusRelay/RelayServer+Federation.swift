import NIOCore
import PlexusPeerWire
import PlexusRelayCore
import PlexusVocabulary

/// The relay's side of federation (`Docs/federation.md`): the gateway next to this relay receives
/// the core's `FederationEffect`s and feeds traffic from other overlays back in. Every call runs
/// on the core's event loop, in call order.
extension RelayServer {
    /// Where the core's federation effects go (nil: dropped; set before gateway routes exist).
    public func setFederationOutlet(_ outlet: (@Sendable (FederationEffect) -> Void)?) {
        let driver = coreDriver
        driver.eventLoop.execute {
            driver.value.federationOutlet = outlet
            guard outlet == nil else { return }
            // Nothing handed over will be reported drained any more: publishers must not stay paused.
            driver.value.core.federationGatewayStopped(now: .now())
            driver.value.afterPeerEvent()
        }
    }

    /// The answer to `FederationEffect.request(ticket:…)`.
    public func federationAnswered(ticket: UInt64, outcome: PeerReplyOutcome) {
        runOnCore { core, now in core.federationAnswered(ticket: ticket, outcome: outcome, now: now) }
    }

    /// A request from another overlay; answered by `FederationEffect.answer(ticket:…)`.
    public func federationRequest(ticket: UInt64, cluster: ByteBuffer, payload: ByteBuffer, millisecondsLeft: UInt64) {
        runOnCore { core, now in
            core.federationRequest(ticket: ticket, cluster: cluster, payload: payload, millisecondsLeft: millisecondsLeft, now: now)
        }
    }

    /// A broadcast from another overlay, for every member in this one.
    public func federationBroadcast(cluster: ByteBuffer, message: ByteBuffer) {
        runOnCore { core, now in core.federationBroadcast(cluster: cluster, message: message, now: now) }
    }

    /// An event from another overlay, for every subscriber in this one.
    public func federationPublish(topic: ByteBuffer, event: ByteBuffer) {
        runOnCore { core, now in core.federationPublish(topic: topic, event: event, now: now) }
    }

    /// A relay-to-relay tunnel frame from the gateway (`GatewayAction.tunnelToRelay`): queued to
    /// `relay`, or taken by the core itself when `relay` is `FederatedTunnels.gatewayNode`.
    public func federationTunnelFrame(_ frame: PeerFrame, relay: NodeID) {
        runOnCore { core, now in core.federationTunnelFrame(frame, relay: relay, now: now) }
    }

    /// A tunnel from another overlay (`GatewayAction.openTunnel`): offered in this overlay as if
    /// TUNNEL_INIT(`tunnelID`) came from the relay `FederatedTunnels.gatewayNode`.
    public func federationOpenTunnel(tunnelID: UInt64, cluster: ByteBuffer, millisecondsLeft: UInt64) {
        federationTunnelFrame(.tunnelInit(tunnelID: tunnelID, cluster: cluster, millisecondsLeft: millisecondsLeft),
                              relay: FederatedTunnels.gatewayNode)
    }

    /// A broadcast or event handed to the gateway for `overlay` left it (`GatewayHooks.drained`):
    /// the core's back-pressure count drops by `bytes`, resuming publishers below its bound.
    public func federationDrained(overlay: String, bytes: Int) {
        runOnCore { core, now in core.federationDrained(overlay: ByteBuffer(string: overlay), bytes: bytes, now: now) }
    }

    private func runOnCore(_ body: @escaping @Sendable (inout RelayCore, NIODeadline) -> Void) {
        let driver = coreDriver
        driver.eventLoop.execute {
            body(&driver.value.core, .now())
            driver.value.afterPeerEvent()
        }
    }
}
