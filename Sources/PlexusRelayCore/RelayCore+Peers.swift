import NIOCore
import PlexusCrypto
import PlexusMembership
import PlexusPeerWire
import PlexusTelemetry
import PlexusWire

/// The relay core's side of the overlay: routing decisions through the directory, frames to and
/// from other relays, their queues, and what happens when one fails or leaves.
extension RelayCore {
    static let noMemberReason = "plexus: no member of the cluster on this relay"
    static let tooLargeToForwardFault = "plexus: request too large to forward to another relay"
    /// Largest message a relay forwards to another relay (the peer frame limit).
    static let maxForwardedMessageBytes = PeerFrameLimits.default.maxMessageBytes

    // MARK: Routing decisions

    /// Where a request or tunnel for `cluster` goes: locality first (a local member, then a relay
    /// of this zone, then any relay), the less loaded of two random candidates within a tier, the
    /// next tier when a tier is saturated. A stand-alone relay, or a cluster no other relay
    /// serves, only looks at local members.
    mutating func route(to cluster: WireName, now: NIODeadline) -> RouteChoice {
        let localCount = routes.memberCount(of: cluster)
        // Stand-alone, or served nowhere else: no copy of the overlay state on this path.
        guard let servers = router.directory.clusters[cluster] else {
            return localCount > 0 ? .local : .none
        }
        return router.choose(among: servers, localMembers: localCount,
                             localInflight: localCount > 0 ? inflight(of: cluster) : 0, now: now)
    }

    /// Requests delivered to the local members of `cluster` and not answered yet.
    func inflight(of cluster: WireName) -> Int {
        var total = 0
        for member in routes.members(of: cluster) {
            switch member {
            case .local(let id): total += connections[id]?.delivered.count ?? 0
            }
        }
        return total
    }

    // MARK: Requests to other relays

    /// Sends a client's request to `node`; its reply, its deadline or the relay's failure answers
    /// the client exactly once.
    mutating func forward(cluster: ByteBuffer, payload: ByteBuffer, timeout: UInt64, deadline: NIODeadline,
                          to node: NodeID, requester: ClientRequest) {
        guard payload.readableBytes <= Self.maxForwardedMessageBytes else {
            answerClient(requester, with: .fault(ByteBuffer(string: Self.tooLargeToForwardFault)))
            return
        }
        let keys = protection.isActive ? protection.routable(WireName(cluster), kind: .cluster).keys : nil
        let overhead = keys == nil ? 0 : SealedEnvelope.overhead
        guard payload.readableBytes + overhead <= Self.maxForwardedMessageBytes else {
            answerClient(requester, with: .fault(ByteBuffer(string: Self.tooLargeToForwardFault)))
            return
        }
        let probe = PeerFrame.request(id: 0, cluster: cluster, millisecondsLeft: timeout, payload: payload)
        guard peerHasRoom(node, bytes: probe.encodedSize + 9 + overhead) else {
            failOverloaded(requester.federationTicket.map { .federation($0) } ?? .client(requester.connection, requestID: requester.requestID),
                           cluster: WireName(cluster))
            return
        }
        var requester = requester
        requester.sealing = keys
        let id = router.forwarded.register(to: node, deadline: deadline, context: requester)
        let sent = keys.map { seal(payload, keys: $0, context: requestContext(.request, keys: $0, origin: router.settings.localNode, id: id), toward: node) }
        sendPeer(.request(id: id, cluster: cluster, millisecondsLeft: timeout, payload: sent ?? payload), to: node, dial: true)
    }

    mutating func expireForwarded(now: NIODeadline) {
        guard router.forwarded.nextDeadline.map({ $0 <= now }) == true else { return }
        for entry in router.forwarded.expire(now: now) {
            answerClient(entry.context, with: .timedOut)
        }
    }

    /// `countedAs` overrides the outcome the metrics count (a failure the wire reports as a timeout).
    mutating func answerClient(_ request: ClientRequest, with result: RequestResult,
                               countedAs outcome: RequestOutcome? = nil) {
        if let ticket = request.federationTicket { return answer(.federation(ticket), with: result) }
        guard connections[request.connection]?.lifecycle.isActive == true else { return }
        answer(.client(request.connection, requestID: request.requestID), with: result, arrivedAt: request.arrivedAt,
               countedAs: outcome)
    }


    // MARK: Frames from other relays

    /// One frame from relay `node`, in the order that relay sent it.
    package mutating func receivePeer(_ frame: PeerFrame, from node: NodeID, now: NIODeadline) {
        clock = now
        switch frame {
        case let .request(id, cluster, left, payload):
            serveRemote(id: id, cluster: cluster, millisecondsLeft: left, payload: payload, from: node, now: now)
        case let .reply(id, outcome):
            guard let entry = router.forwarded.complete(id: id, from: node) else { return }
            if let keys = entry.context.sealing {
                answerSealedReply(entry.context, id: id, outcome: outcome, keys: keys, from: node)
                return
            }
            switch outcome {
            case .success(let reply): answerClient(entry.context, with: .success(reply))
            case .fault(let text): answerClient(entry.context, with: .fault(text))
            case .timedOut: answerClient(entry.context, with: .timedOut)
            // The protocol's REPLY has no "failed": the client sees a timeout, the metrics a failure.
            // A request from another overlay keeps the reason (its gateway answers with a fault).
            case .failed(let reason):
                if let ticket = entry.context.federationTicket { return answerFederation(ticket, .failed(reason: reason)) }
                answerClient(entry.context, with: .timedOut, countedAs: .failed)
            }
        case let .broadcast(cluster, message):
            guard protection.isActive else { return deliverBroadcastLocally(WireName(cluster), message: message) }
            receiveProtectedBroadcast(cluster, message: message, from: node)
        case let .publish(topic, event):
            guard protection.isActive else { return deliverEventLocally(WireName(topic), topic: topic, event: event) }
            receiveProtectedEvent(topic, event: event, from: node)
        case .departure(.draining):
            router.draining.insert(node)
        case .departure(.leaving):
            peerFailed(node, now: now)
        case .tunnelInit, .tunnelConfirm, .tunnelRefuse, .tunnelAllow, .tunnelTransfer, .tunnelClose:
            receiveTunnelFrame(frame, from: node, now: now)
        case .gatewayBroadcast, .gatewayPublish, .gatewayCongestion:
            receiveGatewayFrame(frame, from: node)
        }
    }

    /// A REQUEST from another relay: deliver it to a local member with the time that is left
    /// (never if none is left), answer over the same session.
    private mutating func serveRemote(id: UInt64, cluster: ByteBuffer, millisecondsLeft: UInt64, payload: ByteBuffer,
                                      from node: NodeID, now: NIODeadline) {
        let requester = Requester.relay(node, requestID: id)
        guard millisecondsLeft > 0 else {
            answer(requester, with: .timedOut)
            return
        }
        let name = WireName(cluster)
        if routes.memberCount(of: name) == 0,
           federateIfRouted(requester, cluster: cluster, payload: payload, millisecondsLeft: millisecondsLeft, now: now) { return }
        guard routes.memberCount(of: name) > 0 else {
            sendPeer(.reply(id: id, outcome: .failed(reason: ByteBuffer(string: Self.noMemberReason))), to: node, dial: false)
            return
        }
        var payload = payload
        var keys: LocalKeys?
        if protection.isActive {
            let routable = protection.routable(name, kind: .cluster)
            guard routable.allowed else {
                protectionCounters.refusedFromRelays &+= 1
                let refusal = protection.refusal(cluster: name) ?? ClusterProtection.notHeldRefusal(kind: "cluster", name)
                sendPeer(.reply(id: id, outcome: .failed(reason: ByteBuffer(string: refusal))), to: node, dial: false)
                return
            }
            if let held = routable.keys {
                guard let opened = open(payload, keys: held, context: requestContext(.request, keys: held, origin: node, id: id),
                                        from: node) else {
                    let reason = Self.openFailedReason("request", held, relay: node)
                    sendPeer(.reply(id: id, outcome: .failed(reason: ByteBuffer(string: reason))), to: node, dial: false)
                    return
                }
                // The answer is sealed under the key the request came with (the requester holds it).
                let used = payload.withUnsafeReadableBytes { try? SealedEnvelope.header($0).fingerprint }
                if let used, used != held.keys.primary.fingerprint, let key = held.keys.key(for: used) {
                    keys = LocalKeys(name: held.name, keys: ClusterKeySet(primary: key))
                } else {
                    keys = held
                }
                payload = opened
            }
        }
        let timeout = min(millisecondsLeft, Self.maxTimeoutMilliseconds)
        let deadline = now + .milliseconds(Int64(timeout))
        if !deliverLocally(cluster: name, payload: payload, timeout: timeout, deadline: deadline, requester: requester,
                           sealing: keys) {
            failOverloaded(requester, cluster: name, sealing: keys)
        }
    }

    // MARK: Queues toward other relays

    /// Queues `frame` for `node` and counts its bytes against that relay's queue.
    package mutating func sendPeer(_ frame: PeerFrame, to node: NodeID, dial: Bool) {
        sendPeer(frame, size: frame.encodedSize, to: node, dial: dial)
    }

    /// `sendPeer` for a caller that already computed `frame.encodedSize`.
    package mutating func sendPeer(_ frame: PeerFrame, size: Int, to node: NodeID, dial: Bool) {
        if node == FederatedTunnels.gatewayNode { return effects.append(.federation(.tunnelFrame(frame, relay: node))) }
        router.enqueued(size, toward: node)
        effects.append(.sendPeer(node, frame, dial: dial, size: size))
    }

    /// Whether `bytes` more may be queued toward `node` for work that can be refused (requests,
    /// tunnel constructions).
    func peerHasRoom(_ node: NodeID, bytes: Int) -> Bool {
        router.hasRoom(toward: node, bytes: bytes)
    }

    /// Sends a broadcast or event frame to `node` under the queue rules: above the soft bound the
    /// sending client stops being read until the queue drains; above twice the bound the frame is
    /// dropped and `false` returned (the caller counts it).
    mutating func sendFanOut(_ frame: PeerFrame, to node: NodeID, from source: ConnectionID?) -> Bool {
        let limit = router.settings.peerQueueLimitBytes
        let size = frame.encodedSize
        guard size <= Self.maxForwardedMessageBytes else { return false } // the peer could not decode it
        let queued = router.queuedBytes(to: node)
        guard queued == 0 || queued + size <= 2 * limit else { return false }
        sendPeer(frame, size: size, to: node, dial: true)
        if queued + size > limit, let source, connections[source] != nil, router.pause(source, for: node) {
            effects.append(.pauseReading(source))
        }
        return true
    }

    /// The driver's socket took `bytes` of the frames queued for `node`.
    package mutating func peerWritten(_ node: NodeID, bytes: Int) {
        for client in router.written(bytes, toward: node) { effects.append(.resumeReading(client)) }
        pumpRemoteTunnels(toward: node)
        if !router.federation.splicedBacklog.isEmpty { flushSplicedTunnelFrames(toward: node) }
    }

    /// A frame the core counted could not be queued (no session for an answer, or the link's
    /// own hard bound): give its bytes back.
    package mutating func peerFrameDropped(_ node: NodeID, bytes: Int) {
        peerWritten(node, bytes: bytes)
    }

    // MARK: Membership and failures

    /// The directory changed: rebuild the hot-path view.
    package mutating func directoryChanged(_ snapshot: DirectorySnapshot) {
        protection.noteDirectory(snapshot, localNode: router.settings.localNode)
        router.directoryChanged(snapshot, protection: protection)
    }

    /// The session to `node` failed, the relay was declared dead or left: every request pending
    /// there is answered timed-out now (not at its deadline), its tunnels close, and the balancer
    /// skips it for the quarantine period.
    package mutating func peerFailed(_ node: NodeID, now: NIODeadline) {
        let (requests, resumed) = router.peerFailed(node, now: now)
        for request in requests { answerClient(request, with: .timedOut, countedAs: .failed) }
        for client in resumed { effects.append(.resumeReading(client)) }
        remoteTunnelsPeerFailed(node)
    }

    /// Graceful leave, step 1: tell every relay with a session that this one is draining (they
    /// send no new requests or tunnels here; requests already on their way are still served).
    package mutating func startDraining() {
        guard router.startDraining() else { return }
        effects.append(.announceDeparture(.draining))
    }

    /// Graceful leave, last step: every relay with a session fails what it still has pending here.
    package mutating func announceLeaving() {
        effects.append(.announceDeparture(.leaving))
    }

    /// Work that keeps a draining relay from leaving (up to its drain timeout): requests delivered
    /// to local services (for local or remote requesters), requests forwarded elsewhere, and
    /// tunnels to or from other relays (open or being built), which get the drain time to finish.
    package var pendingWork: Int {
        connections.values.reduce(0) { $0 + $1.delivered.count } + router.pendingWork
    }
}
