import NIOCore
import PlexusCrypto
import PlexusVocabulary
import PlexusPeerWire
import PlexusWire

/// Constructing tunnels whose two ends are on different relays, and what a relay failure does to
/// them. (Data and close: `RelayCore+BridgedTunnels.swift`.)
///
/// Initiating relay: TUN_INIT from a client → the balancer picks a relay → TUNNEL_INIT(id, cluster,
/// ms-left). The client is answered once: TUN_RESULT(L) on TUNNEL_CONFIRM, timed-out on
/// TUNNEL_REFUSE, at its deadline (authoritative, like forwarded requests) or at once when the
/// relay fails. Accepting relay: TUNNEL_INIT → offer to one local member (TUN_INIT with a build
/// id, confirmation timeout min(ms-left, acceptor confirm timeout)) → on TUN_CONFIRM the tunnel
/// is linked and TUNNEL_CONFIRM + TUNNEL_ALLOW(W) go back; no member, an unconfirmed offer or a
/// member that leaves → TUNNEL_REFUSE.
extension RelayCore {
    static let unconfirmedReason = "plexus: tunnel offer not confirmed"
    static let acceptorLeftReason = "plexus: the offered member left"
    static let expiredTunnelReason = "plexus: tunnel construction arrived expired"

    static func relayFailedReason(_ node: NodeID) -> String { "plexus: relay \(node) failed" }

    /// The chunk limit of a tunnel that crosses relays: this relay's, capped at what a
    /// TUNNEL_TRANSFER may carry (a bigger TUNNEL_CONFIRM limit would be a malformed frame).
    /// Room is kept for the seal of a protected cluster's chunks (`SealedEnvelope.overhead`).
    var remoteChunkLimit: Int { min(configuration.chunkLimit, PeerFrameLimits.default.maxChunkBytes - SealedEnvelope.overhead) }

    // MARK: Frames

    /// A tunnel frame from relay `node`.
    mutating func receiveTunnelFrame(_ frame: PeerFrame, from node: NodeID, now: NIODeadline) {
        if takeFederatedTunnelFrame(frame, from: node, now: now) { return }
        switch frame {
        case let .tunnelInit(tunnelID, cluster, left):
            offerRemoteTunnel(tunnelID, cluster: cluster, millisecondsLeft: left, from: node, now: now)
        case let .tunnelConfirm(initiatorTunnelID, acceptorTunnelID, chunkLimit):
            remoteTunnelConfirmed(initiatorTunnelID, acceptorTunnelID: acceptorTunnelID, chunkLimit: chunkLimit, from: node)
        case let .tunnelRefuse(initiatorTunnelID, _):
            guard let pending = router.remoteTunnels.pending[initiatorTunnelID], pending.node == node else { return }
            router.remoteTunnels.pending[initiatorTunnelID] = nil
            answerTunnelTimedOut(pending.initiator)
        case let .tunnelAllow(tunnelID, bytes):
            bridgedPeerAllow(tunnelID, bytes: bytes, from: node)
        case let .tunnelTransfer(tunnelID, size, chunk):
            bridgedPeerTransfer(tunnelID, sizeOrContinuation: size, chunk: chunk, from: node)
        case let .tunnelClose(tunnelID, reason):
            bridgedPeerClose(tunnelID, reason: reason, from: node)
        default:
            break
        }
    }

    // MARK: Initiating relay

    /// Sends a client's tunnel construction to `node` (chosen by the balancer).
    mutating func initiateRemoteTunnel(from initiator: ConnectionID, tunnelID: UInt64, cluster: ByteBuffer,
                                       milliseconds: UInt64, deadline: NIODeadline, to node: NodeID) {
        let frame = PeerFrame.tunnelInit(tunnelID: 0, cluster: cluster, millisecondsLeft: milliseconds)
        guard peerHasRoom(node, bytes: frame.encodedSize + 9) else {
            // The link to that relay is overloaded: fail fast (v1 has only "timed out").
            send(.tunnelResult(id: tunnelID, chunkLimit: nil), to: initiator)
            return
        }
        let id = router.remoteTunnels.allocateID()
        router.remoteTunnels.pending[id] = PendingRemoteTunnel(
            initiator: TunnelEnd(connection: initiator, tunnelID: tunnelID), node: node,
            sealing: protection.isActive ? protection.routable(WireName(cluster), kind: .cluster).keys : nil)
        schedule(.remoteTunnelInit(id), at: deadline)
        sendPeer(.tunnelInit(tunnelID: id, cluster: cluster, millisecondsLeft: milliseconds), to: node, dial: true)
    }

    /// The initiator's deadline passed before the other relay answered.
    mutating func expireRemoteTunnelInit(_ id: UInt64) {
        guard let pending = router.remoteTunnels.pending.removeValue(forKey: id) else { return }
        answerTunnelTimedOut(pending.initiator)
    }

    private mutating func answerTunnelTimedOut(_ initiator: TunnelEnd) {
        guard connections[initiator.connection]?.lifecycle.isActive == true else { return }
        send(.tunnelResult(id: initiator.tunnelID, chunkLimit: nil), to: initiator.connection)
    }

    /// TUNNEL_CONFIRM: link the initiator's end, tell it the chunk limit (the smaller of both
    /// relays', so its chunks fit either) and grant both the client and the peer relay W.
    private mutating func remoteTunnelConfirmed(_ id: UInt64, acceptorTunnelID: UInt64, chunkLimit: UInt64,
                                                from node: NodeID) {
        guard let pending = router.remoteTunnels.pending[id], pending.node == node else {
            // Answered already (deadline passed): the acceptor's end must close.
            sendPeer(.tunnelClose(tunnelID: acceptorTunnelID, reason: ByteBuffer(string: Self.lateConfirmationReason)),
                     to: node, dial: false)
            return
        }
        router.remoteTunnels.pending[id] = nil
        let end = pending.initiator
        guard let connection = connections[end.connection], connection.lifecycle.isActive,
              connection.tunnels[end.tunnelID] == nil, connection.bridgedTunnels[end.tunnelID] == nil
        else {
            // The initiator went away meanwhile: the tunnel is closed before it opens.
            sendPeer(.tunnelClose(tunnelID: acceptorTunnelID, reason: ByteBuffer()), to: node, dial: true)
            return
        }
        let window = configuration.tunnelWindow
        router.remoteTunnels.bridged[id] = BridgedTunnel(
            local: end, node: node, peerTunnelID: acceptorTunnelID,
            outbound: TunnelBridgeSender(window: window), inbound: TunnelBridgeReceiver(window: window), dials: true,
            sealing: pending.sealing)
        connections[end.connection]?.bridgedTunnels[end.tunnelID] = id
        let limit = min(UInt64(remoteChunkLimit), chunkLimit)
        send(.tunnelResult(id: end.tunnelID, chunkLimit: limit), to: end.connection)
        send(.tunnelAllow(id: end.tunnelID, allowance: UInt64(window)), to: end.connection)
        sendPeer(.tunnelAllow(tunnelID: acceptorTunnelID, bytes: UInt64(window)), to: node, dial: true)
    }

    // MARK: Accepting relay

    /// TUNNEL_INIT: offer the tunnel to one local member of the cluster.
    private mutating func offerRemoteTunnel(_ id: UInt64, cluster: ByteBuffer, millisecondsLeft: UInt64,
                                            from node: NodeID, now: NIODeadline) {
        guard millisecondsLeft > 0 else {
            refuseRemoteTunnel(id, to: node, reason: Self.expiredTunnelReason)
            return
        }
        var sealing: LocalKeys?
        if protection.isActive {
            let routable = protection.routable(WireName(cluster), kind: .cluster)
            guard routable.allowed else {
                protectionCounters.refusedFromRelays &+= 1
                refuseRemoteTunnel(id, to: node, reason: ClusterProtection.notHeldRefusal(kind: "cluster", WireName(cluster)))
                return
            }
            sealing = routable.keys
        }
        guard let destination = routes.pickMember(of: WireName(cluster)) else {
            refuseRemoteTunnel(id, to: node, reason: Self.noMemberReason)
            return
        }
        switch destination {
        case .local(let acceptor):
            guard let buildID = connections[acceptor]?.nextBuildID else {
                assertionFailure("route to a connection the core does not know")
                refuseRemoteTunnel(id, to: node, reason: Self.noMemberReason)
                return
            }
            connections[acceptor]?.nextBuildID &+= 1
            connections[acceptor]?.offers[buildID] = TunnelOffer(initiator: acceptor, initiatorTunnelID: id, remote: node,
                                                                   sealing: sealing)
            let left: TimeAmount = .milliseconds(Int64(min(millisecondsLeft, Self.maxTimeoutMilliseconds)))
            schedule(.tunnelOffer(acceptor: acceptor, buildID: buildID), at: now + min(left, configuration.acceptorConfirmTimeout))
            send(.tunnelOffer(buildID: buildID, chunkLimit: UInt64(remoteChunkLimit)), to: acceptor)
        }
    }

    mutating func refuseRemoteTunnel(_ initiatorTunnelID: UInt64, to node: NodeID, reason: String) {
        sendPeer(.tunnelRefuse(initiatorTunnelID: initiatorTunnelID, reason: ByteBuffer(string: reason)), to: node, dial: false)
    }

    /// The member confirmed an offer from relay `node`: link its end and grant W both ways.
    mutating func acceptRemoteTunnel(from node: NodeID, initiatorTunnelID: UInt64, acceptor: ConnectionID, tunnelID: UInt64,
                                     sealing: LocalKeys? = nil) {
        let id = router.remoteTunnels.allocateID()
        let window = configuration.tunnelWindow
        router.remoteTunnels.bridged[id] = BridgedTunnel(
            local: TunnelEnd(connection: acceptor, tunnelID: tunnelID), node: node, peerTunnelID: initiatorTunnelID,
            outbound: TunnelBridgeSender(window: window), inbound: TunnelBridgeReceiver(window: window), dials: false,
            sealing: sealing)
        connections[acceptor]?.bridgedTunnels[tunnelID] = id
        sendPeer(.tunnelConfirm(initiatorTunnelID: initiatorTunnelID, acceptorTunnelID: id,
                                chunkLimit: UInt64(remoteChunkLimit)), to: node, dial: false)
        sendPeer(.tunnelAllow(tunnelID: initiatorTunnelID, bytes: UInt64(window)), to: node, dial: false)
        send(.tunnelAllow(id: tunnelID, allowance: UInt64(window)), to: acceptor)
    }

    // MARK: Failure

    /// `node` failed (session lost, declared dead, left): every tunnel crossing to it closes now —
    /// the local end gets what was already buffered for it, then TUN_CLOSE("plexus: relay … failed")
    /// — constructions sent there are answered timed-out at once, and offers made for it are
    /// withdrawn (a later confirmation gets the usual "expired or unknown" TUN_CLOSE).
    mutating func remoteTunnelsPeerFailed(_ node: NodeID) {
        let reason = Self.relayFailedReason(node)
        let pending = router.remoteTunnels.pending.filter { $0.value.node == node }.sorted { $0.key < $1.key }
        for (id, entry) in pending {
            router.remoteTunnels.pending[id] = nil
            answerTunnelTimedOut(entry.initiator)
        }
        router.remoteTunnels.pumpCursor[node] = nil
        let crossing = router.remoteTunnels.bridged.filter { $0.value.node == node }.keys.sorted()
        for id in crossing {
            guard let tunnel = router.remoteTunnels.remove(id) else { continue }
            deliverClose(of: tunnel, reason: ByteBuffer(string: reason))
        }
        for connection in connections.keys.sorted() {
            guard let offers = connections[connection]?.offers, offers.values.contains(where: { $0.remote == node }) else { continue }
            connections[connection]?.offers = offers.filter { $0.value.remote != node }
        }
        tellGatewayRelayFailed(node)
    }
}
