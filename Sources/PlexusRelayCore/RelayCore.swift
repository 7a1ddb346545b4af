import NIOCore
import PlexusCrypto
import PlexusVocabulary
import PlexusPeerWire
import PlexusWire

/// What the core asks its driver to do. Effects are appended to `RelayCore.effects` in order;
/// the driver applies them and clears the buffer (keeping its capacity).
package enum RelayEffect: Sendable {
    /// Encode this packet into the connection's outbound buffer (flushed at the end of the batch).
    case send(ConnectionID, RelayPacket)
    /// Close the connection once everything queued for it so far has been written.
    case close(ConnectionID)
    /// Send this frame to another relay, dialing it if there is no session (`dial`), or only on an
    /// existing session (answers). The core already counted `frame.encodedSize` against the
    /// relay's queue (`size`, passed on so nobody computes it again); if the frame cannot be
    /// queued the driver reports `peerFrameDropped`.
    case sendPeer(NodeID, PeerFrame, dial: Bool, size: Int)
    /// Send this departure notice to every relay with a session.
    case announceDeparture(PeerDeparture)
    /// Stop / resume reading from a client (backpressure from a relay's full queue).
    case pauseReading(ConnectionID)
    case resumeReading(ConnectionID)
    /// Hand this to the federation gateway next to this relay (`Docs/federation.md`).
    case federation(FederationEffect)
}

/// The relay's core tunables, taken from `RelayConfiguration`.
package struct CoreConfiguration: Sendable {
    package var handshakeTimeout: TimeAmount = .seconds(5)
    package var outboundQueueLimitBytes = 8 * 1024 * 1024
    package var chunkLimit = WireConstants.referenceChunkLimit
    package var tunnelWindow = WireConstants.referenceRelayWindow
    package var acceptorConfirmTimeout: TimeAmount = .seconds(3)
    /// Bytes of unfinished packets all client connections together may hold in their read
    /// buffers; the connection whose input crosses it is closed with the limit as reason.
    package var inputBudgetBytes = 128 * 1024 * 1024
    /// Requests delivered to one member connection and not answered yet; beyond it the member
    /// counts as overloaded (the next member is tried, else the fault "plexus: service overloaded").
    package var maxPendingPerMember = 65_536
    /// Set when the relay routes through an overlay.
    package var overlay: OverlayRouterSettings?
    /// Per-cluster and per-topic keys (`Docs/cluster-keys.md`); replaced at run time with
    /// `RelayCore.setClusterKeys`.
    package var clusterKeys = ClusterKeyring.empty
    /// Refuse every cluster and topic without a key here (`--protected-only`).
    package var protectedOnly = false

    package init() {}
}

/// Everything the relay knows about one client connection.
struct ClientConnection {
    var lifecycle: ConnectionLifecycle
    /// When the socket was accepted (for `/v1/connections`).
    var openedAt: NIODeadline
    /// Packets decoded from / queued to this connection (plain counters, read at scrape time).
    var packetsIn: UInt64 = 0
    var packetsOut: UInt64 = 0
    /// The cluster this connection is a member of (kept after the lifecycle closes, for clean-up).
    var cluster: WireName?
    var subscriptions: Set<WireName> = []
    /// Bytes handed to the driver for this connection and not yet written to its socket.
    package var queuedBytes = 0
    /// Bytes of an unfinished packet this connection's decoder holds (as last reported).
    var bufferedInput = 0
    var nextRelayRequestID: UInt64 = 0
    /// Requests delivered to this connection (a service), by relay request id.
    var delivered: [UInt64: DeliveredRequest] = [:]
    var nextBuildID: UInt64 = 0
    /// Tunnel offers sent to this connection and not yet confirmed, by build id.
    var offers: [UInt64: TunnelOffer] = [:]
    /// Live tunnels by this client's tunnel id.
    var tunnels: [UInt64: TunnelSide] = [:]
    /// Live tunnels whose other end is on another relay: this client's tunnel id → the relay's
    /// id of the bridged tunnel (`RemoteTunnelState.bridged`).
    var bridgedTunnels: [UInt64: UInt64] = [:]
}

/// The relay core: one value owning every connection, route, pending request and tunnel of the
/// relay. It is a pure state machine — events plus the current time in, `effects` out — driven by
/// `CoreDriver` on the relay's single core event loop, and unit-tested on virtual time.
///
/// Packets of one connection are processed strictly in order, and each connection's output is a
/// FIFO, so broadcasts and events keep per-sender order.
package struct RelayCore {
    let configuration: CoreConfiguration
    package var routes = RouteTable()
    var connections: [ConnectionID: ClientConnection] = [:]
    var deadlines = DeadlineQueue()
    var tunnels: [TunnelKey: Tunnel] = [:]
    var nextTunnelKey: UInt64 = 0
    var counters = RelayCounters()
    /// The effects produced since the driver last cleared them.
    package var effects: [RelayEffect] = []
    /// The time of the event being processed (entry points set it), for latencies.
    var clock = NIODeadline.uptimeNanoseconds(0)
    /// Routing to other relays. A stand-alone relay has a router with no peers: its directory
    /// stays empty, so every decision falls back to local members.
    var router: OverlayRouter
    /// Cluster keys: protected names, claims, strict mode (`RelayCore+Protection`).
    var protection: ClusterProtection
    package var protectionCounters = ProtectionCounters()
    var protectionLog: [String] = []
    var fanOutSequence: UInt64 = 0
    /// Random nonces for sealing, fetched in blocks.
    var nonces = NoncePool()

    package init(configuration: CoreConfiguration) {
        self.configuration = configuration
        router = OverlayRouter(settings: configuration.overlay ?? .standalone)
        protection = ClusterProtection(keyring: configuration.clusterKeys, protectedOnly: configuration.protectedOnly)
        effects.reserveCapacity(64)
    }

    // MARK: Events

    /// A socket was accepted: start its handshake deadline.
    package mutating func connectionOpened(_ id: ConnectionID, now: NIODeadline) {
        clock = now
        let lifecycle = ConnectionLifecycle(now: now, handshakeTimeout: configuration.handshakeTimeout)
        connections[id] = ClientConnection(lifecycle: lifecycle, openedAt: now)
        schedule(.handshake(id), at: now + configuration.handshakeTimeout)
    }

    /// One decoded packet from connection `id`.
    package mutating func receive(_ packet: ClientPacket, from id: ConnectionID, now: NIODeadline) {
        clock = now
        guard let index = connections.index(forKey: id) else { return }
        connections.values[index].packetsIn &+= 1
        let action = connections.values[index].lifecycle.packetReceived(packet)
        switch action {
        case .ignore:
            return
        case .dropSilently:
            counters.traffic.countHandshakeFailure(.malformed)
            drop(id, reason: nil)
        case .deny(let reason):
            counters.traffic.countHandshakeFailure(.malformed)
            send(.deny(reason: ByteBuffer(string: reason)), to: id)
            drop(id, reason: nil)
        case .violation(let reason):
            drop(id, reason: reason)
        case .accept(let cluster):
            if let cluster {
                if let refusal = protection.refusal(cluster: cluster) {
                    protectionCounters.refusedRegistrations &+= 1
                    send(.deny(reason: ByteBuffer(string: refusal)), to: id)
                    drop(id, reason: nil)
                    return
                }
                guard routes.memberCount(of: cluster) > 0 || routes.clusterCount < OverlayLimits.maxClustersPerRelay else {
                    send(.deny(reason: ByteBuffer(string: Self.clusterLimitReason)), to: id)
                    drop(id, reason: nil)
                    return
                }
                connections[id]?.cluster = cluster
                routes.addMember(id, to: cluster)
            }
            send(.accept(version: ByteBuffer(string: WireConstants.protocolVersion)), to: id)
        case .process:
            dispatch(packet, from: id, now: now)
        }
    }

    /// The decoder found a protocol violation on connection `id`.
    package mutating func decodeFailed(_ id: ConnectionID, error: String) {
        guard let action = connections[id]?.lifecycle.decodeFailed(error) else { return }
        switch action {
        case .violation(let reason): drop(id, reason: reason)
        case .ignore: return
        default:
            counters.traffic.countHandshakeFailure(.malformed)
            drop(id, reason: nil)
        }
    }

    /// Connection `id`'s decoder now holds `bytes` of an unfinished packet. All connections
    /// share `inputBudgetBytes`: the one whose input crosses it is closed with the limit as
    /// reason (the newest offender; input others already sent is not affected) and counted.
    package mutating func inputBuffered(_ id: ConnectionID, bytes: Int) {
        guard let previous = connections[id]?.bufferedInput else { return }
        connections[id]?.bufferedInput = bytes
        counters.bufferedInputBytes += bytes - previous
        if counters.bufferedInputBytes > counters.peakBufferedInputBytes {
            counters.peakBufferedInputBytes = counters.bufferedInputBytes
        }
        guard bytes > previous, counters.bufferedInputBytes > configuration.inputBudgetBytes else { return }
        counters.inputBudgetRefusals += 1
        drop(id, reason: "plexus: limit: the relay's input budget of \(configuration.inputBudgetBytes) bytes for "
            + "unfinished packets is spent; this connection held \(bytes) bytes of one")
    }

    /// The socket is gone (EOF, reset, write error). No CLOSE can be sent any more.
    package mutating func connectionClosed(_ id: ConnectionID) {
        guard connections[id] != nil else { return }
        connections[id]?.lifecycle.markClosed()
        removeConnection(id)
    }

    /// The driver wrote `bytes` of this connection's queue to its socket.
    package mutating func written(_ id: ConnectionID, bytes: Int) {
        guard connections[id] != nil else { return }
        connections[id]?.queuedBytes -= bytes
        counters.queuedBytes -= bytes
        pumpTunnels(toward: id)
        pumpBridgedTunnels(toward: id)
    }

    /// The earliest pending deadline (possibly of something already answered).
    package var nextDeadline: NIODeadline? {
        guard let forwarded = router.forwarded.nextDeadline else { return deadlines.nextDeadline }
        guard let local = deadlines.nextDeadline else { return forwarded }
        return min(local, forwarded)
    }

    /// Whether the thing a deadline names is still pending.
    func isLive(_ kind: DeadlineKind) -> Bool {
        switch kind {
        case .handshake(let id): return connections[id]?.lifecycle.isAwaitingHandshake == true
        case .deliveredRequest(let server, let relayID): return connections[server]?.delivered[relayID] != nil
        case .tunnelOffer(let acceptor, let buildID): return connections[acceptor]?.offers[buildID] != nil
        case .remoteTunnelInit(let id): return router.remoteTunnels.pending[id] != nil
        case .federationRequest(let ticket): return router.federation.pending[ticket] != nil
        }
    }

    /// Schedules a deadline, sweeping stale entries when the heap has doubled since the last sweep.
    mutating func schedule(_ kind: DeadlineKind, at deadline: NIODeadline) {
        if deadlines.needsCompaction {
            let core = self
            deadlines.compact(keeping: { core.isLive($0) })
        }
        deadlines.schedule(kind, at: deadline)
    }

    /// Fires every deadline due at `now`.
    package mutating func expire(now: NIODeadline) {
        clock = now
        expireForwarded(now: now)
        while let kind = deadlines.popDue(now: now) {
            switch kind {
            case .handshake(let id):
                if connections[id]?.lifecycle.handshakeDeadlinePassed(now: now) == true {
                    counters.traffic.countHandshakeFailure(.timeout)
                    drop(id, reason: nil)
                }
            case .deliveredRequest(let server, let relayID):
                expireDeliveredRequest(server: server, relayID: relayID)
            case .tunnelOffer(let acceptor, let buildID):
                expireTunnelOffer(acceptor: acceptor, buildID: buildID)
            case .remoteTunnelInit(let id):
                expireRemoteTunnelInit(id)
            case .federationRequest(let ticket):
                federationAnswered(ticket: ticket, outcome: .timedOut, now: now)
            }
        }
    }

    /// Relay shutdown: CLOSE(reason) to every active client, close every socket, forget everything.
    package mutating func shutdown(reason: String) {
        for id in connections.keys.sorted() {
            if connections[id]?.lifecycle.isActive == true {
                send(.close(reason: ByteBuffer(string: reason)), to: id)
            }
            effects.append(.close(id))
        }
        connections.removeAll()
        deadlines = DeadlineQueue()
        routes = RouteTable()
        tunnels.removeAll()
        counters.queuedBytes = 0
        router = OverlayRouter(settings: router.settings)
    }

    // MARK: Dispatch

    private mutating func dispatch(_ packet: ClientPacket, from id: ConnectionID, now: NIODeadline) {
        switch packet {
        case .initiate:
            break // handled by the lifecycle
        case .close:
            closeGracefully(id)
        case .broadcast(let cluster, let message):
            broadcast(cluster: cluster, message: message, from: id, now: now)
            broadcastToOtherOverlays(cluster: cluster, message: message, from: id, now: now)
        case .request(let requestID, let cluster, let payload, let timeout):
            request(from: id, requestID: requestID, cluster: cluster, payload: payload, timeout: timeout, now: now)
        case .reply(let relayID, let outcome):
            reply(from: id, relayID: relayID, outcome: outcome)
        case .subscribe(let topic):
            subscribe(id, topic: topic)
        case .unsubscribe(let topic):
            unsubscribe(id, topic: topic)
        case .publish(let topic, let event):
            publish(topic: topic, event: event, from: id, now: now)
            publishToOtherOverlays(topic: topic, event: event, from: id, now: now)
        case .tunnelInit(let tunnelID, let cluster, let timeout):
            tunnelInit(from: id, tunnelID: tunnelID, cluster: cluster, timeout: timeout, now: now)
        case .tunnelConfirm(let buildID, let tunnelID):
            tunnelConfirm(from: id, buildID: buildID, tunnelID: tunnelID)
        case .tunnelAllow(let tunnelID, let allowance):
            tunnelAllow(from: id, tunnelID: tunnelID, allowance: allowance)
        case .tunnelTransfer(let tunnelID, let size, let chunk):
            counters.traffic.tunnelBytesIn &+= UInt64(chunk.readableBytes)
            tunnelTransfer(from: id, tunnelID: tunnelID, size: size, chunk: chunk)
        case .tunnelClose(let tunnelID):
            tunnelClose(from: id, tunnelID: tunnelID)
        }
    }

    // MARK: Output

    /// Queues `packet` for `id` unconditionally (control packets, replies, tunnel traffic that
    /// passed its own checks).
    mutating func send(_ packet: RelayPacket, to id: ConnectionID) {
        guard let index = connections.index(forKey: id) else { return }
        let size = packet.encodedSize
        connections.values[index].queuedBytes += size
        connections.values[index].packetsOut &+= 1
        counters.queuedBytes += size
        counters.notePeak(connections.values[index].queuedBytes)
        effects.append(.send(id, packet))
    }

    /// Whether `bytes` more may be queued for `id` without passing the outbound bound. An empty
    /// queue always has room, so a single message larger than the bound can still be delivered.
    func hasRoom(_ id: ConnectionID, bytes: Int) -> Bool {
        guard let queued = connections[id]?.queuedBytes else { return false }
        return queued == 0 || queued + bytes <= configuration.outboundQueueLimitBytes
    }

    package func queuedBytes(of id: ConnectionID) -> Int { connections[id]?.queuedBytes ?? 0 }

    // MARK: Tear-down

    /// §10.1: remove from the cluster, send CLOSE("") last, then clean up.
    private mutating func closeGracefully(_ id: ConnectionID) {
        leaveCluster(id)
        send(.close(reason: ByteBuffer()), to: id)
        effects.append(.close(id))
        removeConnection(id)
    }

    /// Closes a connection the relay gives up on: with CLOSE(reason) if it was active and a
    /// reason is given, silently otherwise.
    mutating func drop(_ id: ConnectionID, reason: String?) {
        guard connections[id] != nil else { return }
        leaveCluster(id)
        if let reason { send(.close(reason: ByteBuffer(string: reason)), to: id) }
        connections[id]?.lifecycle.markClosed()
        effects.append(.close(id))
        removeConnection(id)
    }

    /// Removes the connection from its cluster: no new requests, broadcasts or offers reach it.
    private mutating func leaveCluster(_ id: ConnectionID) {
        guard let cluster = connections[id]?.cluster else { return }
        connections[id]?.cluster = nil
        routes.removeMember(id, from: cluster)
    }

    /// Forgets a connection: memberships, subscriptions, pending requests (answered timed-out at
    /// once), unconfirmed offers (initiators answered timed-out at once) and tunnels (peers get
    /// TUN_CLOSE(""), after any data the closing side had already sent).
    private mutating func removeConnection(_ id: ConnectionID) {
        guard let connection = connections[id] else { return }
        leaveCluster(id)
        for topic in connection.subscriptions { _ = routes.unsubscribe(id, from: topic) }
        counters.queuedBytes -= connection.queuedBytes
        counters.bufferedInputBytes -= connection.bufferedInput
        connections[id]?.queuedBytes = 0
        // Nothing more may be sent to `id` from here on.
        connections.removeValue(forKey: id)
        for (_, entry) in connection.delivered where entry.requester.connection != id {
            answer(entry.requester, with: .timedOut, arrivedAt: entry.arrivedAt)
        }
        for (_, offer) in connection.offers {
            if let node = offer.remote {
                refuseRemoteTunnel(offer.initiatorTunnelID, to: node, reason: Self.acceptorLeftReason)
            } else if offer.initiator != id {
                send(.tunnelResult(id: offer.initiatorTunnelID, chunkLimit: nil), to: offer.initiator)
            }
        }
        for (tunnelID, side) in connection.tunnels {
            tearDownTunnel(side.key, closedBy: TunnelEnd(connection: id, tunnelID: tunnelID), acknowledge: false)
        }
        for (_, bridgedID) in connection.bridgedTunnels.sorted(by: { $0.key < $1.key }) {
            closeBridgedFromClient(bridgedID)
        }
    }
}
