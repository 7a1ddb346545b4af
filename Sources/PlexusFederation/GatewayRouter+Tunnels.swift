import NIOCore
import PlexusPeerWire
import PlexusVocabulary

/// Tunnels across overlays (`Docs/federation.md` §4, tunnels): the gateway splices a relay-side
/// tunnel (relay-to-relay TUNNEL_* frames, handed over by the relay core next to it) to a
/// link-side one (gateway TUNNEL_* frames), renaming ids and nothing else.
///
/// Path: client → its relay → this gateway's relay (core hands over) → link → the other gateway
/// → its relay core (as from `FederatedTunnels.gatewayNode`), which offers the tunnel to a local
/// member or passes TUNNEL_INIT on to a relay of its overlay with one → member. Credit is the
/// relays' own (W per direction, granted by the receiving end's relay and passed through), so
/// the gateway holds at most one window per direction of a tunnel, in its queues, and buffers
/// nothing itself. When a link or a relay fails, both ends get TUNNEL_CLOSE with the reason.
extension GatewayRouter {
    static let lateTunnelReason = "plexus: tunnel construction expired at the gateway"
    static let tooManyTunnelsReason = "plexus: too many tunnels through this gateway"

    static func linkClosedReason(_ overlay: String) -> String { "plexus: gateway link to \(overlay) closed" }
    static func relayFailedReason(_ node: NodeID) -> String { "plexus: relay \(node) failed" }

    /// Tunnels spliced through this gateway, per link.
    func tunnelCount(on link: GatewayLinkID) -> Int { tunnels.values.reduce(0) { $0 + ($1.link == link ? 1 : 0) } }

    // MARK: From the relay side

    /// A relay-to-relay tunnel frame the relay core handed over: from relay `relay` (or
    /// `FederatedTunnels.gatewayNode` for this gateway's own relay).
    public mutating func tunnelFromRelay(_ frame: PeerFrame, relay: NodeID, now: NIODeadline) -> [GatewayAction] {
        switch frame {
        case let .tunnelInit(relayID, cluster, left):
            return openFromRelay(relayID, cluster: cluster, millisecondsLeft: left, relay: relay, now: now)
        case let .tunnelConfirm(id, relayID, chunkLimit):
            guard var tunnel = tunnels[id], tunnel.side == .accepting, tunnel.relayTunnelID == nil,
                  let remote = tunnel.linkTunnelID else {
                // Answered already (expired, link gone): the relay's end must close.
                return [.tunnelToRelay(relay, .tunnelClose(tunnelID: relayID, reason: ByteBuffer(string: Self.lateTunnelReason)))]
            }
            tunnel.relay = relay
            tunnel.relayTunnelID = relayID
            tunnel.deadline = nil
            tunnels[id] = tunnel
            let limit = min(chunkLimit, UInt64(GatewayFrameLimits.default.maxChunkBytes))
            return [sendTunnel(.tunnelConfirm(initiatorTunnelID: remote, acceptorTunnelID: id, chunkLimit: limit), on: tunnel.link)]
                .compactMap { $0 }
        case let .tunnelRefuse(id, reason):
            guard let tunnel = tunnels[id], tunnel.side == .accepting, tunnel.relayTunnelID == nil,
                  let remote = tunnel.linkTunnelID else { return [] }
            tunnels[id] = nil
            return [sendTunnel(.tunnelRefuse(initiatorTunnelID: remote, reason: reason), on: tunnel.link)].compactMap { $0 }
        case let .tunnelAllow(id, bytes):
            guard let (tunnel, remote) = linkedFromRelay(id, relay: relay) else { return [] }
            return [sendTunnel(.tunnelAllow(tunnelID: remote, bytes: bytes), on: tunnel.link)].compactMap { $0 }
        case let .tunnelTransfer(id, size, chunk):
            guard let (tunnel, remote) = linkedFromRelay(id, relay: relay) else { return [] }
            return [sendTunnel(.tunnelTransfer(tunnelID: remote, sizeOrContinuation: size, chunk: chunk), on: tunnel.link)]
                .compactMap { $0 }
        case let .tunnelClose(id, reason):
            guard let tunnel = tunnels[id], tunnel.relay == relay else { return [] }
            tunnels[id] = nil
            guard let remote = tunnel.linkTunnelID else { return [] } // the link side learns it at its CONFIRM
            return [sendTunnel(.tunnelClose(tunnelID: remote, reason: reason), on: tunnel.link)].compactMap { $0 }
        default:
            return []
        }
    }

    /// Relay `node` failed (this gateway's relay lost its session to it): every tunnel whose
    /// end was there closes toward the other overlay with the reason.
    public mutating func relayFailed(_ node: NodeID) -> [GatewayAction] {
        let reason = ByteBuffer(string: Self.relayFailedReason(node))
        var actions: [GatewayAction] = []
        for id in tunnels.keys.sorted() {
            guard let tunnel = tunnels[id], tunnel.relay == node else { continue }
            tunnels[id] = nil
            guard let remote = tunnel.linkTunnelID else { continue }
            let frame: GatewayFrame = tunnel.isLinked || tunnel.side == .initiating
                ? .tunnelClose(tunnelID: remote, reason: reason) : .tunnelRefuse(initiatorTunnelID: remote, reason: reason)
            if let action = sendTunnel(frame, on: tunnel.link) { actions.append(action) }
        }
        return actions
    }

    private func linkedFromRelay(_ id: UInt64, relay: NodeID) -> (SplicedTunnel, UInt64)? {
        guard let tunnel = tunnels[id], tunnel.relay == relay, tunnel.relayTunnelID != nil,
              let remote = tunnel.linkTunnelID else { return nil }
        return (tunnel, remote)
    }

    private mutating func openFromRelay(_ relayID: UInt64, cluster: ByteBuffer, millisecondsLeft left: UInt64, relay: NodeID,
                                        now: NIODeadline) -> [GatewayAction] {
        func refuse(_ reason: String) -> [GatewayAction] {
            [.tunnelToRelay(relay, .tunnelRefuse(initiatorTunnelID: relayID, reason: ByteBuffer(string: reason)))]
        }
        guard left > 0 else { return refuse(Refusal.deadlinePassed.reason) }
        guard tunnels.count < settings.maxSplicedTunnels else { return refuse(Self.tooManyTunnelsReason) }
        let name = String(buffer: cluster)
        let candidates = links.filter { $0.value.overlay != nil && $0.value.interest.clusters.contains(name) }
            .sorted { lhs, rhs in (lhs.value.queuedBytes, lhs.key) < (rhs.value.queuedBytes, rhs.key) }
        guard let link = candidates.first?.key else { return refuse(Refusal.noRemoteMember.reason) }
        let id = FederatedTunnels.idBit | nextTunnelID
        nextTunnelID += 1
        tunnels[id] = SplicedTunnel(side: .initiating, link: link, linkTunnelID: nil, relay: relay, relayTunnelID: relayID,
                                    deadline: now + .milliseconds(Int64(min(left, Self.maxTunnelWaitMilliseconds))))
        return [sendTunnel(.tunnelInit(tunnelID: id, cluster: cluster, millisecondsLeft: left), on: link)].compactMap { $0 }
    }

    /// Longest a construction waits at a gateway (the relay cores cap timeouts the same way).
    static let maxTunnelWaitMilliseconds: UInt64 = 3_600_000

    // MARK: From the link side

    /// A gateway TUNNEL_* frame arrived on `link`.
    mutating func receiveTunnel(_ frame: GatewayFrame, on link: GatewayLinkID, now: NIODeadline) -> [GatewayAction] {
        switch frame {
        case let .tunnelInit(remoteID, cluster, left):
            guard left > 0, tunnels.count < settings.maxSplicedTunnels else {
                let reason = left == 0 ? Refusal.deadlinePassed.reason : Self.tooManyTunnelsReason
                return [sendTunnel(.tunnelRefuse(initiatorTunnelID: remoteID, reason: ByteBuffer(string: reason)), on: link)]
                    .compactMap { $0 }
            }
            let id = FederatedTunnels.idBit | nextTunnelID
            nextTunnelID += 1
            tunnels[id] = SplicedTunnel(side: .accepting, link: link, linkTunnelID: remoteID, relay: nil, relayTunnelID: nil,
                                        deadline: now + .milliseconds(Int64(min(left, Self.maxTunnelWaitMilliseconds))))
            return [.openTunnel(tunnelID: id, cluster: cluster, millisecondsLeft: left)]
        case let .tunnelConfirm(id, remoteID, chunkLimit):
            guard var tunnel = tunnels[id], tunnel.link == link, tunnel.side == .initiating, tunnel.linkTunnelID == nil,
                  let relay = tunnel.relay, let relayID = tunnel.relayTunnelID else {
                return [sendTunnel(.tunnelClose(tunnelID: remoteID, reason: ByteBuffer(string: Self.lateTunnelReason)), on: link)]
                    .compactMap { $0 }
            }
            tunnel.linkTunnelID = remoteID
            tunnel.deadline = nil
            tunnels[id] = tunnel
            let limit = min(chunkLimit, UInt64(PeerFrameLimits.default.maxChunkBytes))
            return [.tunnelToRelay(relay, .tunnelConfirm(initiatorTunnelID: relayID, acceptorTunnelID: id, chunkLimit: limit))]
        case let .tunnelRefuse(id, reason):
            guard let tunnel = tunnels[id], tunnel.link == link, tunnel.side == .initiating, tunnel.linkTunnelID == nil,
                  let relay = tunnel.relay, let relayID = tunnel.relayTunnelID else { return [] }
            tunnels[id] = nil
            return [.tunnelToRelay(relay, .tunnelRefuse(initiatorTunnelID: relayID, reason: reason))]
        case let .tunnelAllow(id, bytes):
            guard let (relay, relayID) = linkedFromLink(id, link: link) else { return [] }
            return [.tunnelToRelay(relay, .tunnelAllow(tunnelID: relayID, bytes: bytes))]
        case let .tunnelTransfer(id, size, chunk):
            guard let (relay, relayID) = linkedFromLink(id, link: link) else { return [] }
            return [.tunnelToRelay(relay, .tunnelTransfer(tunnelID: relayID, sizeOrContinuation: size, chunk: chunk))]
        case let .tunnelClose(id, reason):
            guard let tunnel = tunnels[id], tunnel.link == link else { return [] }
            tunnels[id] = nil
            guard let relay = tunnel.relay, let relayID = tunnel.relayTunnelID else { return [] }
            if tunnel.side == .initiating, tunnel.linkTunnelID == nil {
                return [.tunnelToRelay(relay, .tunnelRefuse(initiatorTunnelID: relayID, reason: reason))]
            }
            return [.tunnelToRelay(relay, .tunnelClose(tunnelID: relayID, reason: reason))]
        default:
            return []
        }
    }

    private func linkedFromLink(_ id: UInt64, link: GatewayLinkID) -> (NodeID, UInt64)? {
        guard let tunnel = tunnels[id], tunnel.link == link, tunnel.linkTunnelID != nil,
              let relay = tunnel.relay, let relayID = tunnel.relayTunnelID else { return nil }
        return (relay, relayID)
    }

    // MARK: Failure and time

    /// `link` closed: every tunnel spliced through it ends at once, its relay-side end told why
    /// (TUNNEL_CLOSE when linked, TUNNEL_REFUSE while being opened).
    mutating func closeTunnels(on link: GatewayLinkID, overlayName: String) -> [GatewayAction] {
        let reason = ByteBuffer(string: Self.linkClosedReason(overlayName))
        var actions: [GatewayAction] = []
        for id in tunnels.keys.sorted() {
            guard let tunnel = tunnels[id], tunnel.link == link else { continue }
            tunnels[id] = nil
            if let action = relaySideEnd(tunnel, reason: reason) { actions.append(action) }
        }
        return actions
    }

    /// Constructions not linked by their deadline end: the relay side is refused or closed, the
    /// link side refused.
    mutating func expireTunnels(now: NIODeadline) -> [GatewayAction] {
        let reason = ByteBuffer(string: Self.lateTunnelReason)
        var actions: [GatewayAction] = []
        for id in tunnels.keys.sorted() {
            guard let tunnel = tunnels[id], let deadline = tunnel.deadline, deadline <= now else { continue }
            tunnels[id] = nil
            if let action = relaySideEnd(tunnel, reason: reason) { actions.append(action) }
            if tunnel.side == .accepting, let remote = tunnel.linkTunnelID,
               let action = sendTunnel(.tunnelRefuse(initiatorTunnelID: remote, reason: reason), on: tunnel.link) {
                actions.append(action)
            }
        }
        return actions
    }

    var nextTunnelDeadline: NIODeadline? { tunnels.values.compactMap(\.deadline).min() }

    private func relaySideEnd(_ tunnel: SplicedTunnel, reason: ByteBuffer) -> GatewayAction? {
        guard let relay = tunnel.relay, let relayID = tunnel.relayTunnelID else { return nil }
        if tunnel.side == .initiating, tunnel.linkTunnelID == nil {
            return .tunnelToRelay(relay, .tunnelRefuse(initiatorTunnelID: relayID, reason: reason))
        }
        return .tunnelToRelay(relay, .tunnelClose(tunnelID: relayID, reason: reason))
    }

    /// Tunnel frames always go (credit bounds them: at most one window per direction in flight).
    private mutating func sendTunnel(_ frame: GatewayFrame, on link: GatewayLinkID) -> GatewayAction? {
        send(frame, on: link, force: true)
    }
}
