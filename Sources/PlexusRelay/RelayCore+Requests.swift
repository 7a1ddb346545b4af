import NIOCore
import PlexusWire

/// A request delivered to a service and not yet answered.
struct DeliveredRequest: Sendable {
    var requester: ConnectionID
    var requestID: UInt64
}

extension RelayCore {
    /// The fault text a requester gets when the chosen member's outbound queue is full.
    static let overloadedFault = "plexus: service overloaded"

    /// Longest timeout honoured (~34 years); larger wire values are clamped, not rejected.
    static let maxTimeoutMilliseconds: UInt64 = 1 << 40

    /// §7.2: pick one member, deliver with the ORIGINAL timeout, keep the deadline.
    mutating func request(from requester: ConnectionID, requestID: UInt64, cluster: ByteBuffer,
                          payload: ByteBuffer, timeout: UInt64, now: NIODeadline) {
        guard timeout > 0 else {
            send(.reply(id: requestID, result: .timedOut), to: requester)
            return
        }
        let deadline = now + .milliseconds(Int64(min(timeout, Self.maxTimeoutMilliseconds)))
        let name = Name(cluster)
        let memberCount = routes.memberCount(of: name)
        guard memberCount > 0 else {
            // No member: the requester gets its timed-out REPLY at the deadline (reference).
            schedule(.unroutedRequest(requester: requester, requestID: requestID), at: deadline)
            return
        }
        // Round-robin, skipping members whose outbound queue is full (at most a few probes).
        for _ in 0..<min(memberCount, Self.maxOverloadProbes) {
            guard let destination = routes.pickMember(of: name) else { break }
            switch destination {
            case .local(let server):
                guard let relayID = connections[server]?.nextRelayRequestID else {
                    assertionFailure("route to a connection the core does not know")
                    continue
                }
                let packet = RelayPacket.request(id: relayID, payload: payload, timeoutMilliseconds: timeout)
                guard hasRoom(server, bytes: packet.encodedSize) else { continue }
                connections[server]!.nextRelayRequestID &+= 1
                connections[server]!.delivered[relayID] = DeliveredRequest(requester: requester, requestID: requestID)
                schedule(.deliveredRequest(server: server, relayID: relayID), at: deadline)
                send(packet, to: server)
                return
            }
        }
        // Every probed member is overloaded: fail fast rather than let the request wait.
        RelayCounters.countDrop(&counters.overloadedRequests, name)
        send(.reply(id: requestID, result: .fault(ByteBuffer(string: Self.overloadedFault))), to: requester)
    }

    /// How many members a request tries before it is answered "overloaded".
    static let maxOverloadProbes = 8

    /// §7.2 step 5: forward the first answer for a pending id unchanged; drop anything else.
    /// An empty fault is forwarded as-is (an empty remote error; Go bindings read it as a timeout).
    ///
    /// Replies are never dropped. A requester whose queue already holds more than
    /// `replyHardLimitBytes` (4 × the outbound bound) is not reading its answers: it is closed with
    /// CLOSE("plexus: client not reading …") instead of growing the relay's memory further.
    mutating func reply(from server: ConnectionID, relayID: UInt64, outcome: ReplyOutcome) {
        guard let entry = connections[server]?.delivered.removeValue(forKey: relayID) else { return }
        let result: RequestResult
        switch outcome {
        case .success(let bytes): result = .success(bytes)
        case .fault(let text): result = .fault(text)
        }
        let packet = RelayPacket.reply(id: entry.requestID, result: result)
        if let queued = connections[entry.requester]?.queuedBytes, queued > 0,
           queued + packet.encodedSize > replyHardLimitBytes {
            drop(entry.requester, reason: "plexus: client not reading: outbound queue over \(replyHardLimitBytes) bytes")
            return
        }
        send(packet, to: entry.requester)
    }

    /// Past this many queued bytes a requester that gets another reply is closed.
    var replyHardLimitBytes: Int { 4 * configuration.outboundQueueLimitBytes }

    mutating func expireDeliveredRequest(server: ConnectionID, relayID: UInt64) {
        guard let entry = connections[server]?.delivered.removeValue(forKey: relayID) else { return }
        send(.reply(id: entry.requestID, result: .timedOut), to: entry.requester)
    }
}
