import NIOCore
import PlexusPeerWire
import PlexusVocabulary

/// Settings of one gateway's router. Every property is a `var`; `init` gives the defaults.
public struct GatewayRouterSettings: Sendable {
    /// This gateway's overlay (sent in HELLO; a peer of the same overlay is refused).
    public var overlay: OverlayName
    /// This gateway's node id (sent in HELLO).
    public var gateway: NodeID
    /// Bound on encoded bytes queued toward one link. A frame that would go over it is refused:
    /// requests are answered "failed: gateway link overloaded", broadcasts and events are counted
    /// and reported (`GatewayAction.overloaded`). An empty queue always takes one frame. Default 8 MiB.
    public var linkQueueLimitBytes: Int
    /// Most requests from one remote overlay link being served at once; more are answered failed. Default 65,536.
    public var maxServedRequestsPerLink: Int
    /// How often a ready link is pinged to measure its round trip. Default 1 s.
    public var pingInterval: TimeAmount
    /// Most tunnels spliced through this gateway at once; more are refused. Default 16,384.
    public var maxSplicedTunnels: Int

    public init(overlay: OverlayName, gateway: NodeID) {
        self.overlay = overlay
        self.gateway = gateway
        linkQueueLimitBytes = 8 * 1024 * 1024
        maxServedRequestsPerLink = 65_536
        pingInterval = .seconds(1)
        maxSplicedTunnels = 16_384
    }
}

/// The pure state machine of one gateway: its links to gateways of other overlays, the interest
/// each announced, the requests pending on each, and the choice of link for every message.
///
/// Guarantees (each tested on virtual time in `GatewayRouterTests`):
/// * Nothing but HELLO is accepted before the peer's HELLO; a peer of this same overlay, a frame
///   out of place and an out-of-order interest delta close the link.
/// * A request goes to one ready link whose overlay announced the cluster (fewest pending, then
///   least queued); none → refused at once with a reason. Each is answered exactly once: by its
///   REPLY, at its deadline (`expire`), or at once when its link closes.
/// * A broadcast or event from this overlay goes to exactly one link per remote overlay that
///   announced the cluster or topic; traffic that came from another overlay goes nowhere (no loops).
/// * A closed link's interest is withdrawn (`remoteInterestChanged` when that changed the union).
/// * Queues are bounded; what does not fit is refused and counted, never queued past the bound.
public struct GatewayRouter: Sendable {
    public let settings: GatewayRouterSettings
    var links: [GatewayLinkID: GatewayLinkState] = [:]
    var pending: [UInt64: (ticket: GatewayTicket, link: GatewayLinkID, deadline: NIODeadline)] = [:]
    var nextRequestID: UInt64 = 1
    var nextNonce: UInt64 = 1
    var nextSequence: [NodeID: UInt64] = [:]
    /// Tunnels across overlays spliced here, by this gateway's id (`FederatedTunnels.idBit` set).
    var tunnels: [UInt64: SplicedTunnel] = [:]
    var nextTunnelID: UInt64 = 0
    public private(set) var announcer = InterestAnnouncer()

    public init(settings: GatewayRouterSettings) {
        self.settings = settings
    }

    // MARK: Link lifecycle

    /// A link's session is established: sends HELLO and this overlay's full interest.
    public mutating func linkOpened(_ link: GatewayLinkID, now: NIODeadline) -> [GatewayAction] {
        links[link] = GatewayLinkState(nextPingAt: now + settings.pingInterval)
        return [send(.hello(version: GatewayFrameLimits.protocolVersion, overlay: settings.overlay, gateway: settings.gateway), on: link, force: true),
                send(.interest(announcer.full), on: link, force: true)].compactMap { $0 }
    }

    /// A link closed (or failed): its pending requests fail at once, its interest is withdrawn.
    public mutating func linkClosed(_ link: GatewayLinkID, now: NIODeadline) -> [GatewayAction] {
        guard let state = links.removeValue(forKey: link) else { return [] }
        let name = state.overlay.map { "overlay \($0)" } ?? "a gateway"
        var actions: [GatewayAction] = []
        for (id, entry) in pending.sorted(by: { $0.key < $1.key }) where entry.link == link {
            pending.removeValue(forKey: id)
            actions.append(.complete(entry.ticket, .failed(reason: ByteBuffer(string: "plexus: gateway link to \(name) closed"))))
        }
        actions += closeTunnels(on: link, overlayName: name)
        if state.interest.isKnown, !state.interest.clusters.isEmpty || !state.interest.topics.isEmpty {
            actions.append(.remoteInterestChanged)
        }
        return actions
    }

    /// The shell wrote `bytes` of what it was given for `link` to the socket.
    public mutating func written(_ bytes: Int, on link: GatewayLinkID) {
        guard let queued = links[link]?.queuedBytes else { return }
        links[link]?.queuedBytes = max(0, queued - bytes)
    }

    // MARK: Interest

    /// This overlay's interest changed: a delta goes to every link.
    public mutating func localInterestChanged(clusters: Set<String>, topics: Set<String>) -> [GatewayAction] {
        guard let delta = announcer.update(clusters: clusters, topics: topics) else { return [] }
        return links.keys.sorted().compactMap { send(.interest(delta), on: $0, force: true) }
    }

    /// The union of what each remote overlay announced, over its ready links.
    public var remoteInterest: [OverlayName: (clusters: Set<String>, topics: Set<String>)] {
        var result: [OverlayName: (clusters: Set<String>, topics: Set<String>)] = [:]
        for state in links.values {
            guard let overlay = state.overlay, state.interest.isKnown else { continue }
            result[overlay, default: ([], [])].clusters.formUnion(state.interest.clusters)
            result[overlay, default: ([], [])].topics.formUnion(state.interest.topics)
        }
        return result
    }

    // MARK: Time

    /// Fails requests whose deadline passed (timed-out) and pings links that are due.
    public mutating func tick(now: NIODeadline) -> [GatewayAction] {
        var actions = expireTunnels(now: now)
        for (id, entry) in pending.sorted(by: { $0.key < $1.key }) where entry.deadline <= now {
            pending.removeValue(forKey: id)
            links[entry.link]?.pendingRequests -= 1
            actions.append(.complete(entry.ticket, .timedOut))
        }
        for link in links.keys.sorted() {
            guard let state = links[link], state.overlay != nil, state.nextPingAt <= now else { continue }
            links[link]?.nextPingAt = now + settings.pingInterval
            // One ping in flight per link; an unanswered one is simply superseded.
            let nonce = nextNonce
            nextNonce += 1
            links[link]?.lastPingSent = (nonce, now)
            if let action = send(.ping(nonce: nonce), on: link, force: true) { actions.append(action) }
        }
        return actions
    }

    /// The earliest time `tick` has work (nil when nothing is pending or due).
    public var nextDeadline: NIODeadline? {
        let requestDeadline = pending.values.map(\.deadline).min()
        let pingDeadline = links.values.filter { $0.overlay != nil }.map(\.nextPingAt).min()
        return [requestDeadline, pingDeadline, nextTunnelDeadline].compactMap { $0 }.min()
    }

    // MARK: Status

    public var status: [GatewayLinkStatus] {
        links.sorted(by: { $0.key < $1.key }).map { link, state in
            var gateway: NodeID?
            if case .ready(_, let node) = state.phase { gateway = node }
            return GatewayLinkStatus(link: link, overlay: state.overlay, gateway: gateway, queuedBytes: state.queuedBytes,
                                     pendingRequests: state.pendingRequests, servedRequests: state.servedRequests.count,
                                     roundTrip: state.roundTrip, refusedFrames: state.refusedFrames,
                                     droppedOutOfOrder: state.droppedOutOfOrder, tunnels: tunnelCount(on: link),
                                     remoteClusters: state.interest.clusters.sorted(), remoteTopics: state.interest.topics.sorted())
        }
    }

    // MARK: Helpers

    /// Queues `frame` on `link` within the bound (always when `force`: control frames, replies);
    /// nil when the link is unknown or the queue is full (then counted as refused).
    mutating func send(_ frame: GatewayFrame, on link: GatewayLinkID, force: Bool = false) -> GatewayAction? {
        guard let state = links[link] else { return nil }
        let size = GatewayFrameEncoder.encodedSize(frame)
        if !force, state.queuedBytes > 0, state.queuedBytes + size > settings.linkQueueLimitBytes {
            links[link]?.refusedFrames += 1
            return nil
        }
        links[link]?.queuedBytes += size
        links[link]?.framesSent += 1
        return .send(link, frame)
    }
}
