import NIOCore
import PlexusCrypto
import PlexusMembership
import PlexusRouting

/// Request/reply between relays over `PeerLinks` (both roles): forwards requests with the
/// remaining timeout and completes each exactly once; serves arriving requests through `handler`
/// (the relay core's local delivery) and returns the reply, fault or timed-out.
///
/// Failure semantics (v1 expression): when the link to the relay holding a forwarded request
/// fails (dial, handshake, session end) or it announces DEPARTURE leaving, every request pending
/// there completes at once with `.failed(reason: "plexus: relay <node id> failed")`; the relay
/// answers its v1 client timed-out (v1 has no other failure). A frame the link cannot queue
/// (`outboundLimitBytes`) completes with `.fault("plexus: relay link overloaded")`.
///
/// Loop-bound like `PeerLinks`: call everything on `links.eventLoop`. Not yet used by the relay core.
public final class PeerRequestEndpoint {
    public typealias Completion = (PeerReplyOutcome) -> Void
    /// Delivers an arriving request locally; call `answer` exactly once (later calls are ignored).
    public typealias Handler = (_ cluster: ByteBuffer, _ payload: ByteBuffer, _ timeoutMilliseconds: UInt64,
                                _ answer: @escaping (PeerReplyOutcome) -> Void) -> Void

    public static let overloadedFault = "plexus: relay link overloaded"
    public static func failedReason(_ node: PlexusCrypto.NodeID) -> String { "plexus: relay \(node) failed" }

    public let links: PeerLinks
    public var handler: Handler?
    /// A BROADCAST arrived (cluster, message): deliver to every local member.
    public var onBroadcast: ((ByteBuffer, ByteBuffer) -> Void)?
    /// A PUBLISH arrived (topic, event): deliver to every local subscriber.
    public var onPublish: ((ByteBuffer, ByteBuffer) -> Void)?
    /// Broadcasts / events not sent to some relay because its link was at its byte bound, by
    /// cluster / topic name (one count per relay skipped).
    public internal(set) var droppedBroadcasts: [String: Int] = [:]
    public internal(set) var droppedEvents: [String: Int] = [:]
    private var outgoing = RemoteRequests<Completion>()
    private var served = ServedRemoteRequests<PlexusCrypto.NodeID>()
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    /// Takes over `links.onFrame` and `links.onPeerFailed`.
    public init(links: PeerLinks) {
        self.links = links
        links.onFrame = { [weak self] peer, frame in self?.received(frame, from: peer) }
        links.onPeerFailed = { [weak self] peer in self?.peerFailed(peer) }
    }

    /// Requests forwarded and not yet answered.
    public var pendingCount: Int { outgoing.count }

    /// Requests forwarded to `peer` and not yet answered (the `Balancer`'s in-flight input).
    public func inflight(to peer: PlexusCrypto.NodeID) -> Int { outgoing.inflight(to: Self.membershipID(peer)) }

    /// Forwards one request to `peer`; `completion` runs exactly once, on the loop.
    public func request(cluster: ByteBuffer, payload: ByteBuffer, to peer: PlexusCrypto.NodeID, host: String, port: Int,
                        timeout: TimeAmount, completion: @escaping Completion) {
        let now = NIODeadline.now()
        let deadline = now + timeout
        let node = Self.membershipID(peer)
        let id = outgoing.register(to: node, deadline: deadline, context: completion)
        let frame = PeerFrame.request(id: id, cluster: cluster, millisecondsLeft: millisecondsLeft(until: deadline, now: now),
                                      payload: payload)
        if links.send(frame, to: peer, host: host, port: port) == .overflow,
           let entry = outgoing.complete(id: id, from: node) {
            entry.context(.fault(ByteBuffer(string: Self.overloadedFault)))
            return
        }
        rearm()
    }

    static func membershipID(_ id: PlexusCrypto.NodeID) -> PlexusMembership.NodeID {
        PlexusMembership.NodeID(bytes: id.bytes)!
    }

    private func received(_ frame: PeerFrame, from peer: PlexusCrypto.NodeID) {
        switch frame {
        case let .request(id, cluster, left, payload):
            serve(OriginRequest(node: Self.membershipID(peer), id: id), peer: peer, cluster: cluster, left: left, payload: payload)
        case let .reply(id, outcome):
            outgoing.complete(id: id, from: Self.membershipID(peer))?.context(outcome)
        case .departure(.leaving):
            peerFailed(peer)
        case let .broadcast(cluster, message):
            onBroadcast?(cluster, message)
        case let .publish(topic, event):
            onPublish?(topic, event)
        default:
            break // tunnels, draining: not handled here yet
        }
    }

    private func serve(_ origin: OriginRequest, peer: PlexusCrypto.NodeID, cluster: ByteBuffer, left: UInt64, payload: ByteBuffer) {
        switch served.admit(origin, millisecondsLeft: left, arrival: .now(), context: peer) {
        case .duplicate:
            return
        case .answerTimedOut:
            links.sendIfLinked(.reply(id: origin.id, outcome: .timedOut), to: peer)
        case .deliver(let timeout):
            rearm()
            guard let handler else {
                answer(origin, .failed(reason: ByteBuffer(string: "plexus: no member")))
                return
            }
            handler(cluster, payload, timeout) { [weak self] outcome in self?.answer(origin, outcome) }
        }
    }

    private func answer(_ origin: OriginRequest, _ outcome: PeerReplyOutcome) {
        guard let peer = served.answer(origin) else { return }
        links.sendIfLinked(.reply(id: origin.id, outcome: outcome), to: peer)
    }

    private func peerFailed(_ peer: PlexusCrypto.NodeID) {
        let node = Self.membershipID(peer)
        _ = served.originFailed(node)
        let reason = Self.failedReason(peer)
        for entry in outgoing.peerFailed(node) { entry.context(.failed(reason: ByteBuffer(string: reason))) }
    }

    private func rearm() {
        let next = [outgoing.nextDeadline, served.nextDeadline].compactMap { $0 }.min()
        guard let next else { return }
        if let current = timerDeadline, current <= next { return }
        timer?.cancel()
        timerDeadline = next
        timer = links.eventLoop.assumeIsolated().scheduleTask(deadline: next) { [weak self] in
            guard let self else { return }
            timer = nil
            timerDeadline = nil
            let now = NIODeadline.now()
            for entry in outgoing.expire(now: now) { entry.context(.timedOut) }
            for (request, peer) in served.expire(now: now) {
                links.sendIfLinked(.reply(id: request.id, outcome: .timedOut), to: peer)
            }
            rearm()
        }
    }
}
