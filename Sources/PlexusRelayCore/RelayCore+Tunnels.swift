import NIOCore
import PlexusVocabulary
import PlexusWire

/// An unconfirmed offer on the acceptor's connection.
struct TunnelOffer: Sendable {
    var initiator: ConnectionID
    var initiatorTunnelID: UInt64
    /// Set when the initiator is on another relay: `initiatorTunnelID` is then that relay's id
    /// (from TUNNEL_INIT) and `initiator` is meaningless.
    var remote: NodeID? = nil
    /// Set for a protected cluster's tunnel from another relay: its chunks travel sealed.
    var sealing: LocalKeys? = nil
}

/// One end of a tunnel: a connection and that client's id for the tunnel.
struct TunnelEnd: Hashable, Sendable {
    var connection: ConnectionID
    var tunnelID: UInt64
}

/// What a connection's tunnel id maps to.
struct TunnelSide: Sendable {
    var key: TunnelKey
    var isInitiator: Bool
}

/// A linked tunnel. `toInitiator` holds data the acceptor sent, `toAcceptor` data the initiator sent.
struct Tunnel {
    var initiator: TunnelEnd
    var acceptor: TunnelEnd
    var toInitiator: TunnelFlow
    var toAcceptor: TunnelFlow

    func end(initiator isInitiator: Bool) -> TunnelEnd { isInitiator ? initiator : acceptor }
}

extension RelayCore {
    static let lateConfirmationReason = "plexus: tunnel offer expired or unknown"

    /// §9.2 steps 1–3: pick an acceptor and offer it the tunnel. The initiator is answered only
    /// once the acceptor confirms, or timed-out when min(T, acceptor confirmation timeout) passes.
    /// In an overlay the balancer may choose another relay (`initiateRemoteTunnel`).
    mutating func tunnelInit(from initiator: ConnectionID, tunnelID: UInt64, cluster: ByteBuffer,
                             timeout: UInt64, now: NIODeadline) {
        guard timeout > 0 else {
            send(.tunnelResult(id: tunnelID, chunkLimit: nil), to: initiator)
            return
        }
        let clamped = min(timeout, Self.maxTimeoutMilliseconds)
        let requested: TimeAmount = .milliseconds(Int64(clamped))
        // Fail fast (v1 can only say "timed out"): a name beyond the limits, a draining relay, or
        // no member that could take the tunnel.
        guard OverlayLimits.nameBytes.contains(cluster.readableBytes), !router.isDraining else {
            send(.tunnelResult(id: tunnelID, chunkLimit: nil), to: initiator)
            return
        }
        if protection.refusal(cluster: WireName(cluster)) != nil {
            protectionCounters.refusedTunnels &+= 1
            send(.tunnelResult(id: tunnelID, chunkLimit: nil), to: initiator)
            return
        }
        switch route(to: WireName(cluster), now: now) {
        case .none:
            if tunnelThroughGateway(from: initiator, tunnelID: tunnelID, cluster: cluster, milliseconds: clamped,
                                    deadline: now + requested, now: now) { return }
            counters.noMembers += 1
            send(.tunnelResult(id: tunnelID, chunkLimit: nil), to: initiator)
            return
        case .remote(let node):
            initiateRemoteTunnel(from: initiator, tunnelID: tunnelID, cluster: cluster, milliseconds: clamped,
                                 deadline: now + requested, to: node)
            return
        case .local:
            break
        }
        guard let destination = routes.pickMember(of: WireName(cluster)) else {
            send(.tunnelResult(id: tunnelID, chunkLimit: nil), to: initiator)
            return
        }
        switch destination {
        case .local(let acceptor):
            guard let buildID = connections[acceptor]?.nextBuildID else {
                assertionFailure("route to a connection the core does not know")
                send(.tunnelResult(id: tunnelID, chunkLimit: nil), to: initiator)
                return
            }
            connections[acceptor]?.nextBuildID &+= 1
            connections[acceptor]?.offers[buildID] = TunnelOffer(initiator: initiator, initiatorTunnelID: tunnelID)
            let wait = min(requested, configuration.acceptorConfirmTimeout)
            schedule(.tunnelOffer(acceptor: acceptor, buildID: buildID), at: now + wait)
            send(.tunnelOffer(buildID: buildID, chunkLimit: UInt64(configuration.chunkLimit)), to: acceptor)
        }
    }

    /// §9.2 step 5: link the tunnel and grant W to both ends. A late or unknown confirmation gets
    /// TUN_CLOSE(β, reason) so the acceptor's application sees its tunnel close.
    mutating func tunnelConfirm(from acceptor: ConnectionID, buildID: UInt64, tunnelID: UInt64) {
        guard let connection = connections[acceptor], connection.tunnels[tunnelID] == nil,
              connection.bridgedTunnels[tunnelID] == nil else {
            return // the id already names a live tunnel: a TUN_CLOSE would close that one
        }
        guard let offer = connections[acceptor]?.offers.removeValue(forKey: buildID) else {
            send(.tunnelClose(id: tunnelID, reason: ByteBuffer(string: Self.lateConfirmationReason)), to: acceptor)
            return
        }
        if let node = offer.remote {
            acceptRemoteTunnel(from: node, initiatorTunnelID: offer.initiatorTunnelID, acceptor: acceptor, tunnelID: tunnelID,
                               sealing: offer.sealing)
            return
        }
        guard let initiatorConnection = connections[offer.initiator],
              initiatorConnection.lifecycle.isActive,
              initiatorConnection.tunnels[offer.initiatorTunnelID] == nil,
              initiatorConnection.bridgedTunnels[offer.initiatorTunnelID] == nil
        else {
            // The initiator went away meanwhile: the tunnel is closed before it opens.
            send(.tunnelClose(id: tunnelID, reason: ByteBuffer()), to: acceptor)
            return
        }
        let key = TunnelKey(rawValue: nextTunnelKey)
        nextTunnelKey &+= 1
        let window = configuration.tunnelWindow
        tunnels[key] = Tunnel(
            initiator: TunnelEnd(connection: offer.initiator, tunnelID: offer.initiatorTunnelID),
            acceptor: TunnelEnd(connection: acceptor, tunnelID: tunnelID),
            toInitiator: TunnelFlow(window: window), toAcceptor: TunnelFlow(window: window))
        connections[offer.initiator]?.tunnels[offer.initiatorTunnelID] = TunnelSide(key: key, isInitiator: true)
        connections[acceptor]?.tunnels[tunnelID] = TunnelSide(key: key, isInitiator: false)
        send(.tunnelAllow(id: tunnelID, allowance: UInt64(window)), to: acceptor)
        send(.tunnelResult(id: offer.initiatorTunnelID, chunkLimit: UInt64(configuration.chunkLimit)), to: offer.initiator)
        send(.tunnelAllow(id: offer.initiatorTunnelID, allowance: UInt64(window)), to: offer.initiator)
    }

    mutating func expireTunnelOffer(acceptor: ConnectionID, buildID: UInt64) {
        guard let offer = connections[acceptor]?.offers.removeValue(forKey: buildID) else { return }
        if let node = offer.remote {
            refuseRemoteTunnel(offer.initiatorTunnelID, to: node, reason: Self.unconfirmedReason)
            return
        }
        send(.tunnelResult(id: offer.initiatorTunnelID, chunkLimit: nil), to: offer.initiator)
    }

    /// The receiving client grants allowance: forward what it unblocks.
    mutating func tunnelAllow(from id: ConnectionID, tunnelID: UInt64, allowance: UInt64) {
        guard let side = connections[id]?.tunnels[tunnelID] else {
            if let bridged = connections[id]?.bridgedTunnels[tunnelID] { bridgedClientAllow(bridged, allowance: allowance) }
            return
        }
        if side.isInitiator {
            tunnels[side.key]?.toInitiator.grant(allowance)
        } else {
            tunnels[side.key]?.toAcceptor.grant(allowance)
        }
        pump(side.key, towardInitiator: side.isInitiator)
    }

    /// A chunk from one end: buffer it (bounded by W through the sender's credit) and forward it
    /// unchanged, renamed to the peer's tunnel id, as soon as the rules allow.
    mutating func tunnelTransfer(from id: ConnectionID, tunnelID: UInt64, size: UInt64, chunk: ByteBuffer) {
        guard let side = connections[id]?.tunnels[tunnelID] else {
            if let bridged = connections[id]?.bridgedTunnels[tunnelID] {
                bridgedClientTransfer(bridged, from: id, sizeOrContinuation: size, chunk: chunk)
            }
            return
        }
        let towardInitiator = !side.isInitiator
        let outcome = towardInitiator
            ? tunnels[side.key]?.toInitiator.receive(sizeOrContinuation: size, chunk: chunk)
            : tunnels[side.key]?.toAcceptor.receive(sizeOrContinuation: size, chunk: chunk)
        switch outcome {
        case nil:
            return
        case .accepted:
            pump(side.key, towardInitiator: towardInitiator)
            if towardInitiator { tunnels[side.key]?.toInitiator.compactBuffered() } else { tunnels[side.key]?.toAcceptor.compactBuffered() }
        case .discardedOrphanContinuation:
            send(.tunnelAllow(id: tunnelID, allowance: UInt64(chunk.readableBytes)), to: id)
        case .overrun:
            drop(id, reason: "plexus: protocol violation: tunnel chunk beyond the granted allowance")
        }
    }

    /// §9.5: unlink, acknowledge to the closer, notify the peer (after the data already buffered for it).
    mutating func tunnelClose(from id: ConnectionID, tunnelID: UInt64) {
        guard let side = connections[id]?.tunnels[tunnelID] else {
            if let bridged = connections[id]?.bridgedTunnels.removeValue(forKey: tunnelID) {
                send(.tunnelClose(id: tunnelID, reason: ByteBuffer()), to: id)
                closeBridgedFromClient(bridged)
            }
            return
        }
        tearDownTunnel(side.key, closedBy: TunnelEnd(connection: id, tunnelID: tunnelID), acknowledge: true)
    }

    /// Removes a tunnel. The peer of `closer` first gets every chunk still buffered toward it,
    /// then TUN_CLOSE(peer, ""); the closer gets TUN_CLOSE(closer, "") if `acknowledge`.
    mutating func tearDownTunnel(_ key: TunnelKey, closedBy closer: TunnelEnd, acknowledge: Bool) {
        guard var tunnel = tunnels.removeValue(forKey: key) else { return }
        let closerIsInitiator = tunnel.initiator == closer
        let peer = tunnel.end(initiator: !closerIsInitiator)
        connections[closer.connection]?.tunnels[closer.tunnelID] = nil
        connections[peer.connection]?.tunnels[peer.tunnelID] = nil
        if acknowledge {
            send(.tunnelClose(id: closer.tunnelID, reason: ByteBuffer()), to: closer.connection)
        }
        while let chunk = closerIsInitiator ? tunnel.toAcceptor.popAny() : tunnel.toInitiator.popAny() {
            sendTunnelChunk(chunk.data, sizeOrContinuation: chunk.sizeOrContinuation, tunnelID: peer.tunnelID, to: peer.connection)
        }
        send(.tunnelClose(id: peer.tunnelID, reason: ByteBuffer()), to: peer.connection)
    }

    /// Forwards every chunk of one direction that the allowance rules and the receiver's queue
    /// allow, then returns their total length to the sender as one TUN_ALLOW.
    mutating func pump(_ key: TunnelKey, towardInitiator: Bool) {
        guard let tunnel = tunnels[key] else { return }
        let receiver = tunnel.end(initiator: towardInitiator)
        let sender = tunnel.end(initiator: !towardInitiator)
        var returned = 0
        while true {
            let limit = configuration.outboundQueueLimitBytes
            let queued = connections[receiver.connection]?.queuedBytes ?? 0
            let hasRoom: (Int) -> Bool = { length in queued == 0 || queued + length + 16 <= limit }
            let next = towardInitiator
                ? tunnels[key]?.toInitiator.popReleasable(hasRoom: hasRoom)
                : tunnels[key]?.toAcceptor.popReleasable(hasRoom: hasRoom)
            guard let chunk = next else { break }
            returned += chunk.data.readableBytes
            sendTunnelChunk(chunk.data, sizeOrContinuation: chunk.sizeOrContinuation, tunnelID: receiver.tunnelID, to: receiver.connection)
        }
        if returned > 0 {
            send(.tunnelAllow(id: sender.tunnelID, allowance: UInt64(returned)), to: sender.connection)
        }
    }

    /// After a connection's socket drained: resume tunnels that wait for room in its queue.
    mutating func pumpTunnels(toward id: ConnectionID) {
        guard let sides = connections[id]?.tunnels, !sides.isEmpty else { return }
        for (_, side) in sides {
            let waiting = side.isInitiator
                ? !(tunnels[side.key]?.toInitiator.buffer.isEmpty ?? true)
                : !(tunnels[side.key]?.toAcceptor.buffer.isEmpty ?? true)
            if waiting { pump(side.key, towardInitiator: side.isInitiator) }
        }
    }
}

extension RelayCore {
    /// Queues one chunk of tunnel data for a local client and counts its payload bytes
    /// (`plexus_tunnel_sent_bytes_total`).
    mutating func sendTunnelChunk(_ data: ByteBuffer, sizeOrContinuation: UInt64, tunnelID: UInt64,
                                  to connection: ConnectionID) {
        counters.traffic.tunnelBytesOut &+= UInt64(data.readableBytes)
        send(.tunnelTransfer(id: tunnelID, sizeOrContinuation: sizeOrContinuation, chunk: data), to: connection)
    }
}
