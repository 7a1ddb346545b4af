import HeapModule
import NIOCore
import PlexusMembership

/// A request this relay forwarded to another relay and has not answered yet.
public struct ForwardedRequest<Context> {
    /// The relay-scoped id carried in the REQUEST frame and echoed by the REPLY.
    public var id: UInt64
    /// The relay the request went to.
    public var node: NodeID
    /// When the requester's timeout ends on this relay.
    public var deadline: NIODeadline
    /// What the caller needs to answer its client (connection, client request id, …).
    public var context: Context
}

extension ForwardedRequest: Sendable where Context: Sendable {}
extension ForwardedRequest: Equatable where Context: Equatable {}

/// The requests this relay forwarded to other relays, keyed by relay-scoped id.
///
/// Guarantees:
/// * Every registered request leaves the table exactly once: by `complete` (a reply from the relay
///   it was sent to), by `expire` (its deadline passed), or by `peerFailed` (its relay failed or is
///   leaving). The caller answers its client once per request returned, so the client gets
///   exactly one reply.
/// * A reply for an unknown id, an already finished id, or from a different relay is refused
///   (`complete` returns `nil`): the caller drops it.
/// * `inflight(to:)` counts the requests currently pending on each relay (the balancer's input).
/// * Ids are never reused (64-bit counter). The deadline heap deletes lazily but is rebuilt when
///   stale entries outnumber live ones, so memory stays proportional to pending requests.
/// * No clock is read: callers pass `now`.
public struct RemoteRequests<Context> {
    private struct DeadlineKey: Comparable {
        var deadline: NIODeadline
        var id: UInt64
        static func < (lhs: Self, rhs: Self) -> Bool {
            (lhs.deadline, lhs.id) < (rhs.deadline, rhs.id)
        }
    }

    private var pending: [UInt64: ForwardedRequest<Context>] = [:]
    private var idsByNode: [NodeID: Set<UInt64>] = [:]
    private var deadlines = Heap<DeadlineKey>()
    private var nextID: UInt64

    public init(firstID: UInt64 = 0) {
        nextID = firstID
    }

    /// Number of pending requests.
    public var count: Int { pending.count }

    /// Requests pending on `node`.
    public func inflight(to node: NodeID) -> Int { idsByNode[node]?.count ?? 0 }

    /// The earliest deadline among pending requests (arm one timer for it).
    public var nextDeadline: NIODeadline? { deadlines.min?.deadline }

    /// Records a request sent to `node`; returns the id to put in the REQUEST frame.
    public mutating func register(to node: NodeID, deadline: NIODeadline, context: Context) -> UInt64 {
        let id = nextID
        nextID &+= 1
        pending[id] = ForwardedRequest(id: id, node: node, deadline: deadline, context: context)
        idsByNode[node, default: []].insert(id)
        deadlines.insert(DeadlineKey(deadline: deadline, id: id))
        return id
    }

    /// A REPLY for `id` arrived from `node`: returns the request to answer, or `nil` to drop it.
    public mutating func complete(id: UInt64, from node: NodeID) -> ForwardedRequest<Context>? {
        guard let request = pending[id], request.node == node else { return nil }
        return remove(id)
    }

    /// Removes and returns every request whose deadline is ≤ `now`, earliest first.
    public mutating func expire(now: NIODeadline) -> [ForwardedRequest<Context>] {
        var expired: [ForwardedRequest<Context>] = []
        while let first = deadlines.min, first.deadline <= now {
            _ = deadlines.removeMin()
            if pending[first.id] != nil, let request = remove(first.id) { expired.append(request) }
        }
        return expired
    }

    /// `node` failed (session lost, declared dead, leaving): removes and returns every request
    /// pending on it, in id order, so each can be answered at once instead of at its deadline.
    public mutating func peerFailed(_ node: NodeID) -> [ForwardedRequest<Context>] {
        guard let ids = idsByNode[node] else { return [] }
        return ids.sorted().compactMap { remove($0) }
    }

    private mutating func remove(_ id: UInt64) -> ForwardedRequest<Context>? {
        guard let request = pending.removeValue(forKey: id) else { return nil }
        if let index = idsByNode.index(forKey: request.node) {
            idsByNode.values[index].remove(id)
            if idsByNode.values[index].isEmpty { idsByNode.remove(at: index) }
        }
        dropStaleDeadlines()
        return request
    }

    /// Keeps the heap's minimum live and its size proportional to the pending requests.
    private mutating func dropStaleDeadlines() {
        while let first = deadlines.min, pending[first.id] == nil { _ = deadlines.removeMin() }
        if deadlines.count > 2 * pending.count + 64 {
            deadlines = Heap(pending.values.map { DeadlineKey(deadline: $0.deadline, id: $0.id) })
        }
    }

    /// The heap's size (live plus lazily deleted entries), for tests of the memory bound.
    var deadlineHeapCount: Int { deadlines.count }
}

extension RemoteRequests: Sendable where Context: Sendable {}

/// Milliseconds of a timeout left at `now`, rounded down (0 when the deadline has passed): the
/// value a REQUEST or TUNNEL_INIT frame carries.
public func millisecondsLeft(until deadline: NIODeadline, now: NIODeadline) -> UInt64 {
    guard deadline > now else { return 0 }
    return UInt64(deadline.uptimeNanoseconds - now.uptimeNanoseconds) / 1_000_000
}

/// What the receiving relay does with a REQUEST (or TUNNEL_INIT) that arrived from another relay.
///
/// Guarantees: a request with no time left (ms-left = 0) is never delivered — the relay answers
/// REPLY timed-out at once; otherwise it is delivered with T = ms-left (≥ 1, as v1 requires) and
/// the relay's own deadline for it is arrival + ms-left.
public enum IncomingRequestAdmission: Equatable, Sendable {
    case deliver(deadline: NIODeadline, clientTimeoutMilliseconds: UInt64)
    case answerTimedOut

    public init(millisecondsLeft: UInt64, arrival: NIODeadline) {
        guard millisecondsLeft > 0 else {
            self = .answerTimedOut
            return
        }
        // Saturating: an absurd ms-left yields the farthest representable deadline, never a trap.
        let (nanoseconds, overflowA) = millisecondsLeft.multipliedReportingOverflow(by: 1_000_000)
        let (end, overflowB) = arrival.uptimeNanoseconds.addingReportingOverflow(nanoseconds)
        let limit = UInt64(Int64.max)
        let deadline = overflowA || overflowB || end > limit ? limit : end
        self = .deliver(deadline: .uptimeNanoseconds(deadline), clientTimeoutMilliseconds: millisecondsLeft)
    }
}
