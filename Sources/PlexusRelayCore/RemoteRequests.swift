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

    init(id: UInt64, node: NodeID, deadline: NIODeadline, context: Context) {
        self.id = id
        self.node = node
        self.deadline = deadline
        self.context = context
    }
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
    // Inlinable so the relay core's `RemoteRequests<ClientRequest>` is specialised (see DeadlineTable).
    var table = DeadlineTable<UInt64, Context>()
    var nextID: UInt64

    public init(firstID: UInt64 = 0) {
        nextID = firstID
    }

    /// Number of pending requests.
    public var count: Int { table.count }

    /// Requests pending on `node`.
    public func inflight(to node: NodeID) -> Int { table.count(concerning: node) }

    /// The earliest deadline among pending requests (arm one timer for it).
    public var nextDeadline: NIODeadline? { table.nextDeadline }

    /// Records a request sent to `node`; returns the id to put in the REQUEST frame.
    public mutating func register(to node: NodeID, deadline: NIODeadline, context: Context) -> UInt64 {
        var id = nextID
        while !table.insert(id, node: node, deadline: deadline, value: context) { id &+= 1 } // only after 2^64 ids
        nextID = id &+ 1
        return id
    }

    /// A REPLY for `id` arrived from `node`: returns the request to answer, or `nil` to drop it.
    public mutating func complete(id: UInt64, from node: NodeID) -> ForwardedRequest<Context>? {
        guard table.entry(id)?.node == node else { return nil }
        return table.remove(id).map(Self.request)
    }

    /// Removes and returns every request whose deadline is ≤ `now`, earliest first.
    public mutating func expire(now: NIODeadline) -> [ForwardedRequest<Context>] {
        table.expire(now: now).map(Self.request)
    }

    /// `node` failed (session lost, declared dead, leaving): removes and returns every request
    /// pending on it, in the order they were sent, so each can be answered at once instead of at
    /// its deadline.
    public mutating func peerFailed(_ node: NodeID) -> [ForwardedRequest<Context>] {
        table.removeAll(concerning: node).map(Self.request)
    }

    static func request(_ entry: DeadlineTable<UInt64, Context>.Entry) -> ForwardedRequest<Context> {
        ForwardedRequest(id: entry.key, node: entry.node, deadline: entry.deadline, context: entry.value)
    }

    /// The heap's size (live plus lazily deleted entries), for tests of the memory bound.
    var deadlineHeapCount: Int { table.heapCount }
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
