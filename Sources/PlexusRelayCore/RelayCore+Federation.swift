import NIOCore
import PlexusPeerWire
import PlexusVocabulary
import PlexusWire

/// Federation (`Docs/federation.md` §5): requests, broadcasts and events that cross to other
/// overlays through gateway relays, and those that arrive from them.
///
/// Rules: a request crosses only when no member in this overlay can take it (`route` said
/// `.none`); it goes to one gateway relay advertising the cluster (one hop to it, then one hop
/// per overlay boundary). A broadcast or event made by a client of this relay goes to one gateway
/// per other overlay that wants it. Traffic that came from another overlay is delivered in this
/// overlay only, never handed to a gateway again (no loops). Protected names never cross.
extension RelayCore {
    static let federationRefusedProtected = "plexus: protected names do not cross to other overlays"
    static let noGatewayRouteReason = "plexus: this relay no longer routes the name to another overlay"

    // MARK: Out of this overlay

    /// A request no local or overlay member can take: to a gateway, if one advertises the
    /// cluster. Returns false when none does (the caller refuses as before).
    mutating func requestThroughGateway(_ requester: ConnectionID, requestID: UInt64, cluster: ByteBuffer, payload: ByteBuffer,
                                        timeout: UInt64, deadline: NIODeadline, now: NIODeadline) -> Bool {
        let name = WireName(cluster)
        guard !protection.isActive || protection.routable(name, kind: .cluster).keys == nil,
              let gateway = chooseGateway(for: name, now: now) else { return false }
        if gateway == router.settings.localNode {
            federate(.client(requester, requestID: requestID), cluster: cluster, payload: payload, millisecondsLeft: timeout, now: now)
        } else {
            forward(cluster: cluster, payload: payload, timeout: timeout, deadline: deadline, to: gateway,
                    requester: ClientRequest(connection: requester, requestID: requestID, arrivedAt: now))
        }
        return true
    }

    /// The gateway for a request: among those advertising the cluster and accepting work, the one
    /// with the fewest requests forwarded to it.
    func chooseGateway(for name: WireName, now: NIODeadline) -> NodeID? {
        guard let servers = router.gateways.clusters[name] else { return nil }
        var best: (node: NodeID, inflight: Int)?
        for server in servers where router.accepts(server.node, now: now) || server.node == router.settings.localNode {
            let inflight = server.node == router.settings.localNode ? router.federation.pending.count
                : router.forwarded.inflight(to: server.node)
            if inflight < (best?.inflight ?? Int.max) { best = (server.node, inflight) }
        }
        return best?.node
    }

    /// On a gateway relay: a request from another relay of this overlay (or a local client) for a
    /// cluster with no member here goes to the federation. False if this relay has no route for it.
    mutating func federateIfRouted(_ requester: Requester, cluster: ByteBuffer, payload: ByteBuffer, millisecondsLeft: UInt64,
                                   now: NIODeadline) -> Bool {
        let name = WireName(cluster)
        guard router.gateways.clusters[name]?.contains(where: { $0.node == router.settings.localNode }) == true else { return false }
        if protection.isActive, protection.routable(name, kind: .cluster).keys != nil {
            answer(requester, with: .fault(ByteBuffer(string: Self.federationRefusedProtected)))
            return true
        }
        federate(requester, cluster: cluster, payload: payload, millisecondsLeft: millisecondsLeft, now: now)
        return true
    }

    private mutating func federate(_ requester: Requester, cluster: ByteBuffer, payload: ByteBuffer, millisecondsLeft: UInt64,
                                   now: NIODeadline) {
        let ticket = router.federation.register(requester, now: now)
        schedule(.federationRequest(ticket), at: now + .milliseconds(Int64(min(millisecondsLeft, Self.maxTimeoutMilliseconds))))
        effects.append(.federation(.request(ticket: ticket, cluster: cluster, payload: payload, millisecondsLeft: millisecondsLeft)))
    }

    /// After a local client's broadcast: one copy per other overlay serving the cluster.
    mutating func broadcastToOtherOverlays(cluster: ByteBuffer, message: ByteBuffer, from source: ConnectionID?, now: NIODeadline) {
        let name = WireName(cluster)
        guard let servers = router.gateways.clusters[name], protection.refusal(cluster: name) == nil,
              !protection.isActive || protection.routable(name, kind: .cluster).keys == nil else { return }
        for server in GatewayDirectory.onePerOverlay(servers, usable: { isUsableGateway($0, now: now) }) {
            if server.node == router.settings.localNode {
                handToGateway(.broadcast(overlay: server.overlay, cluster: cluster, message: message), overlay: server.overlay,
                              name: cluster, message: message)
            } else if !sendFanOut(.gatewayBroadcast(overlay: server.overlay, cluster: cluster, message: message), to: server.node, from: source) {
                RelayCounters.countDrop(&counters.droppedBroadcasts, name)
                counters.lostBroadcasts.count(.relayQueueFull)
            }
            pauseIfCongested(source, path: GatewayPath(gateway: server.node, overlay: server.overlay))
        }
    }

    /// After a local client's event: one copy per other overlay that wants the topic.
    mutating func publishToOtherOverlays(topic: ByteBuffer, event: ByteBuffer, from source: ConnectionID?, now: NIODeadline) {
        let name = WireName(topic)
        guard let servers = router.gateways.topics[name], protection.refusal(topic: name) == nil,
              !protection.isActive || protection.routable(name, kind: .topic).keys == nil else { return }
        for server in GatewayDirectory.onePerOverlay(servers, usable: { isUsableGateway($0, now: now) }) {
            if server.node == router.settings.localNode {
                handToGateway(.publish(overlay: server.overlay, topic: topic, event: event, publisher: router.settings.localNode),
                              overlay: server.overlay, name: topic, message: event)
            } else if !sendFanOut(.gatewayPublish(overlay: server.overlay, topic: topic, event: event), to: server.node, from: source) {
                RelayCounters.countDrop(&counters.droppedEvents, name)
                counters.lostEvents.count(.relayQueueFull)
            }
            pauseIfCongested(source, path: GatewayPath(gateway: server.node, overlay: server.overlay))
        }
    }

    private func isUsableGateway(_ node: NodeID, now: NIODeadline) -> Bool {
        node == router.settings.localNode || router.reachable(node, now: now)
    }

    /// On a gateway relay: another relay of this overlay hands over a broadcast or event for
    /// another overlay.
    mutating func receiveGatewayFrame(_ frame: PeerFrame, from node: NodeID) {
        switch frame {
        case let .gatewayCongestion(overlay, congested):
            gatewayCongestion(overlay: overlay, congested: congested, from: node)
        case let .gatewayBroadcast(overlay, cluster, message):
            noteFeeder(node)
            guard routesLocally(overlay, cluster, in: router.gateways.clusters) else {
                RelayCounters.countDrop(&counters.droppedBroadcasts, WireName(cluster))
                return
            }
            handToGateway(.broadcast(overlay: overlay, cluster: cluster, message: message), overlay: overlay, name: cluster, message: message)
        case let .gatewayPublish(overlay, topic, event):
            noteFeeder(node)
            guard routesLocally(overlay, topic, in: router.gateways.topics) else {
                RelayCounters.countDrop(&counters.droppedEvents, WireName(topic))
                return
            }
            handToGateway(.publish(overlay: overlay, topic: topic, event: event, publisher: node), overlay: overlay, name: topic, message: event)
        default:
            return
        }
    }

    private func routesLocally(_ overlay: ByteBuffer, _ name: ByteBuffer, in table: [WireName: [GatewayServer]]) -> Bool {
        table[WireName(name)]?.contains { $0.node == router.settings.localNode && $0.overlay == overlay } == true
    }

    // MARK: Into this overlay (called by the gateway next to this relay)

    /// The federation's answer to `FederationEffect.request(ticket:)`. A failure (no link, link
    /// lost, overloaded) reaches the requester — a local client, or the relay that forwarded it
    /// here — at once as a fault carrying the reason, not as a timeout.
    package mutating func federationAnswered(ticket: UInt64, outcome: PeerReplyOutcome, now: NIODeadline) {
        clock = now
        guard let entry = router.federation.pending.removeValue(forKey: ticket) else { return }
        switch outcome {
        case .success(let reply): answer(entry.requester, with: .success(reply), arrivedAt: entry.arrivedAt)
        case .fault(let fault): answer(entry.requester, with: .fault(fault), arrivedAt: entry.arrivedAt)
        case .timedOut: answer(entry.requester, with: .timedOut, arrivedAt: entry.arrivedAt)
        case .failed(let reason): answer(entry.requester, with: .fault(reason), arrivedAt: entry.arrivedAt)
        }
    }

    /// A request from another overlay: to a member of this overlay (this relay's first, then the
    /// balancer), never to a gateway. Answered with `FederationEffect.answer(ticket:)` exactly once.
    package mutating func federationRequest(ticket: UInt64, cluster: ByteBuffer, payload: ByteBuffer, millisecondsLeft: UInt64,
                                            now: NIODeadline) {
        clock = now
        let requester = Requester.federation(ticket)
        let name = WireName(cluster)
        guard millisecondsLeft > 0 else { return answer(requester, with: .timedOut) }
        if protection.isActive, protection.routable(name, kind: .cluster).keys != nil {
            return answerFederation(ticket, .failed(reason: ByteBuffer(string: Self.federationRefusedProtected)))
        }
        let timeout = min(millisecondsLeft, Self.maxTimeoutMilliseconds)
        let deadline = now + .milliseconds(Int64(timeout))
        switch route(to: name, now: now) {
        case .none:
            let reason = Self.noMembersFault(name, servedElsewhere: router.directory.clusters[name] != nil)
            answerFederation(ticket, .failed(reason: ByteBuffer(string: reason)))
        case .local:
            if !deliverLocally(cluster: name, payload: payload, timeout: timeout, deadline: deadline, requester: requester) {
                failOverloaded(requester, cluster: name)
            }
        case .remote(let node):
            var request = ClientRequest(connection: ConnectionID(UInt64.max), requestID: 0, arrivedAt: now)
            request.federationTicket = ticket
            forward(cluster: cluster, payload: payload, timeout: timeout, deadline: deadline, to: node, requester: request)
        }
    }

    /// A broadcast from another overlay: every member in this overlay, never another gateway.
    package mutating func federationBroadcast(cluster: ByteBuffer, message: ByteBuffer, now: NIODeadline) {
        clock = now
        broadcast(cluster: cluster, message: message, from: nil, now: now)
    }

    /// An event from another overlay: every subscriber in this overlay, never another gateway.
    package mutating func federationPublish(topic: ByteBuffer, event: ByteBuffer, now: NIODeadline) {
        clock = now
        publish(topic: topic, event: event, from: nil, now: now)
    }

    mutating func answerFederation(_ ticket: UInt64, _ outcome: PeerReplyOutcome) {
        effects.append(.federation(.answer(ticket: ticket, outcome: outcome)))
    }
}
