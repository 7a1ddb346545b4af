import DequeModule
import NIOCore
import PlexusPeerWire
import PlexusVocabulary
import PlexusWire

/// Tunnels across overlays (`Docs/federation.md` §4, tunnels), the relay core's part.
///
/// The core keeps its own tunnel machinery unchanged and treats the gateway next to it as one
/// more relay, `FederatedTunnels.gatewayNode`:
/// * a client's TUN_INIT for a cluster with no member in this overlay goes, like any cross-relay
///   tunnel, to a gateway relay advertising the cluster (to the pseudo-relay when this relay is
///   that gateway);
/// * on the gateway relay, a TUNNEL_INIT from another relay for a cluster it routes to another
///   overlay, and every tunnel frame naming a gateway id (`FederatedTunnels.idBit`), is handed to
///   the gateway (`FederationEffect.tunnelFrame`); what the gateway sends back is queued to that
///   relay as an ordinary frame;
/// * a TUNNEL_INIT from the gateway (a client of another overlay) is offered to a local member,
///   or passed on to a relay of this overlay with one; never to a gateway (no loops).
/// Credit stays end to end between the relays of the two clients, so nothing new is buffered.
extension RelayCore {
    // MARK: Out of this overlay

    /// TUN_INIT with no member in this overlay: to a gateway advertising the cluster. False when
    /// none does (or the name is protected: protected names never cross).
    mutating func tunnelThroughGateway(from initiator: ConnectionID, tunnelID: UInt64, cluster: ByteBuffer, milliseconds: UInt64,
                                       deadline: NIODeadline, now: NIODeadline) -> Bool {
        let name = WireName(cluster)
        guard !protection.isActive || protection.routable(name, kind: .cluster).keys == nil,
              let gateway = chooseGateway(for: name, now: now) else { return false }
        let target = gateway == router.settings.localNode ? FederatedTunnels.gatewayNode : gateway
        initiateRemoteTunnel(from: initiator, tunnelID: tunnelID, cluster: cluster, milliseconds: milliseconds,
                             deadline: deadline, to: target)
        return true
    }

    /// Whether this relay is a gateway for `name` (it advertises a route to another overlay).
    func routesToOtherOverlay(_ name: WireName) -> Bool {
        router.gateways.clusters[name]?.contains { $0.node == router.settings.localNode } == true
    }

    // MARK: Tunnel frames the gateway takes

    /// A tunnel frame from relay `node` that belongs to the gateway next to this relay, or a
    /// TUNNEL_INIT from the gateway this core must pass on. True when handled here.
    mutating func takeFederatedTunnelFrame(_ frame: PeerFrame, from node: NodeID, now: NIODeadline) -> Bool {
        if node == FederatedTunnels.gatewayNode {
            guard case let .tunnelInit(id, cluster, left) = frame else { return false }
            return passOnFederatedTunnelInit(id, cluster: cluster, millisecondsLeft: left, now: now)
        }
        switch frame {
        case let .tunnelInit(_, cluster, _):
            let name = WireName(cluster)
            guard routes.memberCount(of: name) == 0, routesToOtherOverlay(name),
                  !protection.isActive || protection.routable(name, kind: .cluster).keys == nil else { return false }
        case .tunnelConfirm(let id, _, _), .tunnelRefuse(let id, _), .tunnelAllow(let id, _), .tunnelTransfer(let id, _, _),
             .tunnelClose(let id, _):
            guard id & FederatedTunnels.idBit != 0 else { return false }
        default:
            return false
        }
        effects.append(.federation(.tunnelFrame(frame, relay: node)))
        return true
    }

    /// TUNNEL_INIT from another overlay and no local member: to a relay of this overlay that has
    /// one (the balancer), keeping the gateway's id so that relay's answers come back here and are
    /// handed over. False (the usual refusal follows) when there is none.
    private mutating func passOnFederatedTunnelInit(_ id: UInt64, cluster: ByteBuffer, millisecondsLeft: UInt64,
                                                    now: NIODeadline) -> Bool {
        let name = WireName(cluster)
        if protection.isActive, protection.routable(name, kind: .cluster).keys != nil {
            refuseRemoteTunnel(id, to: FederatedTunnels.gatewayNode, reason: Self.federationRefusedProtected)
            return true
        }
        guard millisecondsLeft > 0, routes.memberCount(of: name) == 0, case .remote(let node) = route(to: name, now: now) else {
            return false
        }
        let frame = PeerFrame.tunnelInit(tunnelID: id, cluster: cluster, millisecondsLeft: millisecondsLeft)
        guard peerHasRoom(node, bytes: frame.encodedSize + 9) else {
            refuseRemoteTunnel(id, to: FederatedTunnels.gatewayNode, reason: "plexus: relay link overloaded")
            return true
        }
        sendPeer(frame, to: node, dial: true)
        return true
    }

    // MARK: From the gateway

    /// A tunnel frame from the gateway next to this relay, for relay `relay` (queued to it), or
    /// for this core itself when `relay` is `FederatedTunnels.gatewayNode`.
    ///
    /// Frames toward a relay are paced like this relay's own tunnel chunks (`tunnelRoom`: only
    /// under the soft bound of the queue toward it, an empty queue always takes one): what does
    /// not fit waits here, in order, until that queue drains (`flushSplicedTunnelFrames`). Credit
    /// bounds what waits to one window per tunnel direction.
    package mutating func federationTunnelFrame(_ frame: PeerFrame, relay: NodeID, now: NIODeadline) {
        clock = now
        guard relay != FederatedTunnels.gatewayNode else { return receiveTunnelFrame(frame, from: relay, now: now) }
        if router.federation.splicedBacklog[relay] != nil || !tunnelRoom(toward: relay, bytes: frame.encodedSize) {
            router.federation.splicedBacklog[relay, default: []].append(frame)
            return
        }
        sendPeer(frame, to: relay, dial: true)
    }

    /// The queue toward `node` drained: send the spliced tunnel frames waiting for it, in order,
    /// as far as the soft bound allows.
    mutating func flushSplicedTunnelFrames(toward node: NodeID) {
        guard var backlog = router.federation.splicedBacklog.removeValue(forKey: node) else { return }
        while let first = backlog.first, tunnelRoom(toward: node, bytes: first.encodedSize) {
            backlog.removeFirst()
            sendPeer(first, to: node, dial: true)
        }
        if !backlog.isEmpty { router.federation.splicedBacklog[node] = backlog }
    }

    /// Relay `node` failed: its congestion no longer pauses anyone; the gateway next to this relay
    /// closes the tunnels whose end was there.
    mutating func tellGatewayRelayFailed(_ node: NodeID) {
        router.federation.splicedBacklog[node] = nil
        federationPeerFailed(node)
        guard router.gateways.clusters.values.contains(where: { $0.contains { $0.node == router.settings.localNode } }) else { return }
        effects.append(.federation(.relayFailed(node)))
    }
}
