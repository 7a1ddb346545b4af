import NIOCore
import PlexusTelemetry
import PlexusVocabulary
import PlexusPeerWire
import PlexusWire

/// Who waits for the answer to a request delivered to a local service.
enum Requester: Sendable, Equatable {
    /// A local client, by its own request id.
    case client(ConnectionID, requestID: UInt64)
    /// Another relay, by the id in its REQUEST frame.
    case relay(NodeID, requestID: UInt64)
    /// Another overlay, through the gateway next to this relay, by its ticket (`Docs/federation.md`).
    case federation(UInt64)

    /// The local client connection, if the requester is one.
    var connection: ConnectionID? {
        if case .client(let id, _) = self { return id }
        return nil
    }
}

/// A request delivered to a service and not yet answered.
struct DeliveredRequest: Sendable {
    var requester: Requester
    /// When the request reached this relay (for the latency of its answer).
    var arrivedAt: NIODeadline
    /// Set when the request came sealed from another relay: its answer is sealed back.
    var sealing: LocalKeys? = nil
}

/// Where a request or tunnel goes.
enum RouteChoice: Equatable {
    case none
    case local
    case remote(NodeID)
}

extension RelayCore {
    /// The fault text a requester gets when the chosen member's outbound queue is full.
    static let overloadedFault = "plexus: service overloaded"

    /// Longest timeout honoured: one hour. Larger wire values are clamped, not rejected, so a
    /// request can never pin relay memory for longer (Docs/relay.md, "Limits").
    static let maxTimeoutMilliseconds: UInt64 = 3_600_000

    /// The fault a requester gets at once, instead of a timeout, when no member of `cluster` can
    /// take the request: none exists on any relay, or the only relays that serve it are
    /// unreachable (failed, quarantined) or draining.
    static func noMembersFault(_ cluster: WireName, servedElsewhere: Bool) -> String {
        servedElsewhere
            ? "plexus: no members: the relays serving cluster \"\(cluster)\" are unreachable or draining"
            : "plexus: no members: no member of cluster \"\(cluster)\" on any relay"
    }

    /// The fault a local requester gets while this relay drains (it may retry on another relay).
    static let drainingFault = "plexus: refused: relay is draining"
    /// CLOSE / DENY reasons at the relay-wide interest limits.
    static let clusterLimitReason =
        "plexus: limit: this relay already has members of \(OverlayLimits.maxClustersPerRelay) clusters, the most its directory record carries"
    static let topicLimitReason =
        "plexus: limit: this relay already has subscribers of \(OverlayLimits.maxTopicsPerRelay) topics, the most its directory record carries"

    /// §7.2: pick one member (on this relay or, through the directory, on another), deliver with
    /// the ORIGINAL timeout, keep the deadline.
    mutating func request(from requester: ConnectionID, requestID: UInt64, cluster: ByteBuffer,
                          payload: ByteBuffer, timeout: UInt64, now: NIODeadline) {
        guard timeout > 0 else {
            send(.reply(id: requestID, result: .timedOut), to: requester)
            return
        }
        if let refusal = OverlayLimits.nameRefusal(kind: "cluster", byteCount: cluster.readableBytes) {
            refuseAtOnce(requester, requestID: requestID, fault: refusal)
            return
        }
        guard !router.isDraining else {
            counters.refusedWhileDraining += 1
            refuseAtOnce(requester, requestID: requestID, fault: Self.drainingFault)
            return
        }
        let clamped = min(timeout, Self.maxTimeoutMilliseconds)
        let deadline = now + .milliseconds(Int64(clamped))
        let name = WireName(cluster)
        if let refusal = protection.refusal(cluster: name) {
            protectionCounters.refusedRequests &+= 1
            refuseAtOnce(requester, requestID: requestID, fault: refusal)
            return
        }
        switch route(to: name, now: now) {
        case .none:
            if requestThroughGateway(requester, requestID: requestID, cluster: cluster, payload: payload, timeout: clamped,
                                     deadline: deadline, now: now) { return }
            // Fail fast: nobody could answer before the deadline, so say so now.
            counters.noMembers += 1
            let fault = Self.noMembersFault(name, servedElsewhere: router.directory.clusters[name] != nil)
            refuseAtOnce(requester, requestID: requestID, fault: fault)
        case .local:
            let who = Requester.client(requester, requestID: requestID)
            if !deliverLocally(cluster: name, payload: payload, timeout: timeout, deadline: deadline, requester: who) {
                failOverloaded(who, cluster: name)
            }
        case .remote(let node):
            forward(cluster: cluster, payload: payload, timeout: clamped, deadline: deadline, to: node,
                    requester: ClientRequest(connection: requester, requestID: requestID, arrivedAt: now))
        }
    }

    /// Round-robin over the local members, skipping members whose outbound queue is full (at most
    /// a few probes). Returns `false` if every probed member is overloaded.
    mutating func deliverLocally(cluster name: WireName, payload: ByteBuffer, timeout: UInt64, deadline: NIODeadline,
                                 requester: Requester, sealing: LocalKeys? = nil) -> Bool {
        let memberCount = routes.memberCount(of: name)
        for _ in 0..<min(memberCount, Self.maxOverloadProbes) {
            guard let destination = routes.pickMember(of: name) else { break }
            switch destination {
            case .local(let server):
                guard let relayID = connections[server]?.nextRelayRequestID else {
                    assertionFailure("route to a connection the core does not know")
                    continue
                }
                let packet = RelayPacket.request(id: relayID, payload: payload, timeoutMilliseconds: timeout)
                guard hasRoom(server, bytes: packet.encodedSize),
                      (connections[server]?.delivered.count ?? 0) < configuration.maxPendingPerMember else { continue }
                connections[server]?.nextRelayRequestID &+= 1
                connections[server]?.delivered[relayID] = DeliveredRequest(requester: requester, arrivedAt: clock,
                                                                            sealing: sealing)
                schedule(.deliveredRequest(server: server, relayID: relayID), at: deadline)
                send(packet, to: server)
                return true
            }
        }
        return false
    }

    /// Every probed member is overloaded: fail fast rather than let the request wait.
    mutating func failOverloaded(_ requester: Requester, cluster: WireName, sealing: LocalKeys? = nil) {
        RelayCounters.countDrop(&counters.overloadedRequests, cluster)
        answer(requester, with: .fault(ByteBuffer(string: Self.overloadedFault)), sealing: sealing)
    }

    /// How many members a request tries before it is answered "overloaded".
    static let maxOverloadProbes = 8

    /// §7.2 step 5: forward the first answer for a pending id unchanged; drop anything else.
    /// An empty fault is forwarded as-is (an empty remote error; Go bindings read it as a timeout).
    mutating func reply(from server: ConnectionID, relayID: UInt64, outcome: ReplyOutcome) {
        guard let entry = connections[server]?.delivered.removeValue(forKey: relayID) else { return }
        switch outcome {
        case .success(let bytes):
            answer(entry.requester, with: .success(bytes), arrivedAt: entry.arrivedAt, sealing: entry.sealing)
        case .fault(let text):
            answer(entry.requester, with: .fault(text), arrivedAt: entry.arrivedAt, sealing: entry.sealing)
        }
    }

    /// Sends a request's one answer to whoever waits for it.
    ///
    /// Replies are never dropped. A requester whose queue already holds more than
    /// `replyHardLimitBytes` (4 × the outbound bound) is not reading its answers: it is closed with
    /// CLOSE("plexus: client not reading …") instead of growing the relay's memory further.
    mutating func answer(_ requester: Requester, with result: RequestResult, arrivedAt: NIODeadline? = nil,
                         countedAs countedOutcome: RequestOutcome? = nil, sealing: LocalKeys? = nil) {
        switch requester {
        case .client(let connection, let requestID):
            countClientRequest(result, arrivedAt: arrivedAt, countedAs: countedOutcome)
            let packet = RelayPacket.reply(id: requestID, result: result)
            if let queued = connections[connection]?.queuedBytes, queued > 0,
               queued + packet.encodedSize > replyHardLimitBytes {
                counters.traffic.slowConsumersDisconnected &+= 1
                drop(connection, reason: "plexus: client not reading: outbound queue over \(replyHardLimitBytes) bytes")
                return
            }
            send(packet, to: connection)
        case .relay(let node, let requestID):
            let outcome: PeerReplyOutcome
            switch (result, sealing) {
            case (.success(let bytes), nil): outcome = .success(reply: bytes)
            case (.fault(let text), nil): outcome = .fault(text)
            case (.success(let bytes), let keys?):
                outcome = .success(reply: seal(bytes, keys: keys, context: requestContext(.reply, keys: keys, origin: node, id: requestID), toward: node))
            case (.fault(let text), let keys?):
                outcome = .fault(seal(text, keys: keys, context: requestContext(.fault, keys: keys, origin: node, id: requestID), toward: node))
            case (.timedOut, _): outcome = .timedOut
            }
            sendPeer(.reply(id: requestID, outcome: outcome), to: node, dial: false)
        case .federation(let ticket):
            switch result {
            case .success(let bytes): answerFederation(ticket, .success(reply: bytes))
            case .fault(let text): answerFederation(ticket, .fault(text))
            case .timedOut: answerFederation(ticket, .timedOut)
            }
        }
    }

    /// Past this many queued bytes a requester that gets another reply is closed.
    var replyHardLimitBytes: Int { 4 * configuration.outboundQueueLimitBytes }

    mutating func expireDeliveredRequest(server: ConnectionID, relayID: UInt64) {
        guard let entry = connections[server]?.delivered.removeValue(forKey: relayID) else { return }
        answer(entry.requester, with: .timedOut, arrivedAt: entry.arrivedAt)
    }

    /// Counts the answer a local client gets, by outcome (`override` when the wire result does not
    /// say it: a failure reported as a timeout), with its latency since arrival.
    private mutating func countClientRequest(_ result: RequestResult, arrivedAt: NIODeadline?,
                                             countedAs override: RequestOutcome?) {
        let outcome: RequestOutcome
        if let override {
            outcome = override
        } else {
            switch result {
            case .success: outcome = .ok
            case .fault(let text): outcome = text.readableBytesView.elementsEqual(Self.overloadedFault.utf8) ? .refused : .fault
            case .timedOut: outcome = .timedOut
            }
        }
        let latency = arrivedAt.map { (clock - $0).nanoseconds } ?? 0
        counters.traffic.countRequest(outcome, latencyNanoseconds: latency)
    }

    /// A local request answered at once without delivery (no members, draining, a limit).
    mutating func refuseAtOnce(_ requester: ConnectionID, requestID: UInt64, fault: String) {
        counters.traffic.countRequest(.refused, latencyNanoseconds: 0)
        send(.reply(id: requestID, result: .fault(ByteBuffer(string: fault))), to: requester)
    }
}
