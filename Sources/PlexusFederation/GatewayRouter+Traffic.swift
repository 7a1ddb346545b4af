import NIOCore
import PlexusPeerWire
import PlexusVocabulary

extension GatewayRouter {
    /// Why a request could not be sent through a gateway.
    public enum Refusal: Error, Sendable, Equatable {
        /// No ready link to an overlay that serves the cluster.
        case noRemoteMember
        /// The deadline has passed.
        case deadlinePassed
        /// Every suitable link's queue is over its bound.
        case overloaded

        public var reason: String {
            switch self {
            case .noRemoteMember: "plexus: no member in this overlay nor in any linked overlay"
            case .deadlinePassed: "plexus: request deadline passed before it could cross to another overlay"
            case .overloaded: "plexus: gateway link overloaded"
            }
        }
    }

    /// Whether some ready link's overlay announced `cluster`.
    public func servesRemotely(_ cluster: String) -> Bool {
        links.values.contains { $0.overlay != nil && $0.interest.clusters.contains(cluster) }
    }

    /// Sends a request from this overlay to another that serves `cluster`, answered later through
    /// `.complete(ticket, …)`; or the refusal, at once.
    public mutating func request(cluster: String, payload: ByteBuffer, deadline: NIODeadline, ticket: GatewayTicket,
                                 now: NIODeadline) -> Result<GatewayAction, Refusal> {
        let left = deadline - now
        guard left.nanoseconds >= 1_000_000 else { return .failure(.deadlinePassed) }
        let candidates = links.filter { $0.value.overlay != nil && $0.value.interest.clusters.contains(cluster) }
            .sorted { lhs, rhs in
                (lhs.value.pendingRequests, lhs.value.queuedBytes, lhs.key) < (rhs.value.pendingRequests, rhs.value.queuedBytes, rhs.key)
            }
        guard !candidates.isEmpty else { return .failure(.noRemoteMember) }
        let id = nextRequestID
        let frame = GatewayFrame.request(id: id, cluster: ByteBuffer(string: cluster),
                                         millisecondsLeft: UInt64(left.nanoseconds / 1_000_000), payload: payload)
        for (link, _) in candidates {
            guard let action = send(frame, on: link) else { continue }
            nextRequestID += 1
            pending[id] = (ticket, link, deadline)
            links[link]?.pendingRequests += 1
            return .success(action)
        }
        return .failure(.overloaded)
    }

    /// A broadcast to `cluster`: one link per remote overlay that serves it (only `overlay`
    /// when given), none when it came from another overlay.
    public mutating func broadcast(cluster: String, message: ByteBuffer, origin: TrafficOrigin,
                                   only overlay: OverlayName? = nil) -> [GatewayAction] {
        guard origin == .localOverlay else { return [] }
        let frame = GatewayFrame.broadcast(cluster: ByteBuffer(string: cluster), message: message)
        return fanOut(frame, what: "broadcast to \(cluster)", only: overlay) { $0.clusters.contains(cluster) }
    }

    /// An event on `topic` published on relay `publisher` of this overlay: one link per remote
    /// overlay that wants the topic, none when it came from another overlay. Sequences are
    /// numbered per publisher here.
    public mutating func publish(topic: String, event: ByteBuffer, publisher: NodeID, origin: TrafficOrigin,
                                 only overlay: OverlayName? = nil) -> [GatewayAction] {
        guard origin == .localOverlay else { return [] }
        let wanted = links.values.contains {
            $0.overlay != nil && (overlay == nil || $0.overlay == overlay) && $0.interest.topics.contains(topic)
        }
        guard wanted else { return [] }
        let sequence = (nextSequence[publisher] ?? 0) + 1
        nextSequence[publisher] = sequence
        let frame = GatewayFrame.event(topic: ByteBuffer(string: topic), publisher: publisher, sequence: sequence, event: event)
        return fanOut(frame, what: "event on \(topic)", only: overlay) { $0.topics.contains(topic) }
    }

    /// The answer to a `.deliverRequest`: sent back on its link if that is still open (and the
    /// request was not already answered).
    public mutating func answer(link: GatewayLinkID, requestID: UInt64, outcome: PeerReplyOutcome) -> [GatewayAction] {
        guard links[link]?.servedRequests.remove(requestID) != nil else { return [] }
        return [send(.reply(id: requestID, outcome: outcome), on: link, force: true)].compactMap { $0 }
    }

    /// A frame arrived on `link`.
    public mutating func receive(_ frame: GatewayFrame, on link: GatewayLinkID, now: NIODeadline) -> [GatewayAction] {
        guard let state = links[link] else { return [] }
        links[link]?.framesReceived += 1
        guard let overlay = state.overlay else {
            guard case let .hello(version, overlay, gateway) = frame, version >= 1 else {
                return [.close(link, reason: "first gateway frame was not HELLO")]
            }
            guard overlay != settings.overlay else {
                return [.close(link, reason: "gateway \(gateway) is in this same overlay \(overlay)")]
            }
            links[link]?.phase = .ready(overlay: overlay, gateway: gateway)
            links[link]?.nextPingAt = now
            return []
        }
        switch frame {
        case .hello:
            return [.close(link, reason: "second HELLO on a gateway link")]
        case .interest(let interest):
            switch links[link]?.interest.apply(interest) {
            case .applied(let changed)?: return changed ? [.remoteInterestChanged] : []
            case .outOfOrder(let expected, let got)?:
                return [.close(link, reason: "interest version \(got) from overlay \(overlay), expected \(expected)")]
            case nil: return []
            }
        case let .request(id, cluster, left, payload):
            if left == 0 {
                return [send(.reply(id: id, outcome: .timedOut), on: link, force: true)].compactMap { $0 }
            }
            guard state.servedRequests.count < settings.maxServedRequestsPerLink,
                  !state.servedRequests.contains(id) else {
                return [send(.reply(id: id, outcome: .failed(reason: ByteBuffer(string: Refusal.overloaded.reason))),
                             on: link, force: true)].compactMap { $0 }
            }
            links[link]?.servedRequests.insert(id)
            return [.deliverRequest(link, requestID: id, cluster: cluster, millisecondsLeft: left, payload: payload)]
        case let .reply(id, outcome):
            guard let entry = pending[id], entry.link == link else { return [] }
            pending.removeValue(forKey: id)
            links[link]?.pendingRequests -= 1
            return [.complete(entry.ticket, outcome)]
        case let .broadcast(cluster, message):
            return [.deliverBroadcast(from: overlay, cluster: cluster, message: message)]
        case let .event(topic, publisher, sequence, event):
            guard sequence > (state.lastSequence[publisher] ?? 0) else {
                links[link]?.droppedOutOfOrder += 1
                return []
            }
            links[link]?.lastSequence[publisher] = sequence
            return [.deliverEvent(from: overlay, topic: topic, event: event)]
        case .ping(let nonce):
            return [send(.pong(nonce: nonce), on: link, force: true)].compactMap { $0 }
        case .tunnelInit, .tunnelConfirm, .tunnelRefuse, .tunnelAllow, .tunnelTransfer, .tunnelClose:
            return receiveTunnel(frame, on: link, now: now)
        case .pong(let nonce):
            if let sent = state.lastPingSent, sent.nonce == nonce {
                links[link]?.roundTrip = now - sent.at
                links[link]?.lastPingSent = nil
            }
            return []
        }
    }

    /// One frame per remote overlay whose interest matches, on its least-loaded ready link; an
    /// overlay whose every link is full gets `.overloaded` instead.
    mutating func fanOut(_ frame: GatewayFrame, what: String, only: OverlayName?, matches: (RemoteInterest) -> Bool) -> [GatewayAction] {
        var byOverlay: [OverlayName: [GatewayLinkID]] = [:]
        for (link, state) in links {
            guard let overlay = state.overlay, only == nil || only == overlay, matches(state.interest) else { continue }
            byOverlay[overlay, default: []].append(link)
        }
        var actions: [GatewayAction] = []
        for overlay in byOverlay.keys.sorted() {
            let candidates = (byOverlay[overlay] ?? []).sorted { lhs, rhs in
                ((links[lhs]?.queuedBytes ?? 0), lhs) < ((links[rhs]?.queuedBytes ?? 0), rhs)
            }
            guard let first = candidates.first else { continue }
            if let action = send(frame, on: first) {
                actions.append(action)
            } else {
                actions.append(.overloaded(first, what: what))
            }
        }
        return actions
    }
}

extension GatewayFrameEncoder {
    /// The encoded size of `frame` in bytes (what it adds to a link's queue), without encoding it.
    public static func encodedSize(_ frame: GatewayFrame) -> Int {
        func varint(_ value: UInt64) -> Int {
            var count = 1
            var rest = value >> 7
            while rest > 0 { count += 1; rest >>= 7 }
            return count
        }
        func field(_ length: Int) -> Int { varint(UInt64(length)) + length }
        switch frame {
        case let .hello(_, overlay, _):
            return 2 + field(overlay.value.utf8.count) + NodeID.byteCount
        case .interest(let interest):
            return 1 + varint(interest.version) + 1 + varint(UInt64(interest.changes.count))
                + interest.changes.reduce(0) { $0 + 1 + field($1.name.utf8.count) }
        case let .request(id, cluster, left, payload):
            return 1 + varint(id) + field(cluster.readableBytes) + varint(left) + field(payload.readableBytes)
        case let .reply(id, outcome):
            let body: Int
            switch outcome {
            case .success(let bytes), .fault(let bytes), .failed(let bytes): body = field(bytes.readableBytes)
            case .timedOut: body = 0
            }
            return 1 + varint(id) + 1 + body
        case let .broadcast(cluster, message):
            return 1 + field(cluster.readableBytes) + field(message.readableBytes)
        case let .event(topic, _, sequence, event):
            return 1 + field(topic.readableBytes) + NodeID.byteCount + varint(sequence) + field(event.readableBytes)
        case .ping(let nonce), .pong(let nonce):
            return 1 + varint(nonce)
        case let .tunnelInit(id, cluster, left):
            return 1 + varint(id) + field(cluster.readableBytes) + varint(left)
        case let .tunnelConfirm(initiator, acceptor, limit):
            return 1 + varint(initiator) + varint(acceptor) + varint(limit)
        case let .tunnelRefuse(id, reason), let .tunnelClose(id, reason):
            return 1 + varint(id) + field(reason.readableBytes)
        case let .tunnelAllow(id, bytes):
            return 1 + varint(id) + varint(bytes)
        case let .tunnelTransfer(id, size, chunk):
            return 1 + varint(id) + varint(size) + field(chunk.readableBytes)
        }
    }
}
