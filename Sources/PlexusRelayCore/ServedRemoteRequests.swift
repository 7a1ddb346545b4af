import NIOCore
import PlexusMembership

/// Names a request another relay forwarded here: the origin relay and its relay-scoped id.
public struct OriginRequest: Hashable, Sendable {
    public var node: NodeID
    public var id: UInt64

    public init(node: NodeID, id: UInt64) {
        self.node = node
        self.id = id
    }
}

/// The serving side: requests other relays forwarded here and this relay delivered to a local
/// member, waiting for that member's REPLY.
///
/// Guarantees:
/// * `admit` applies the arrival rule (`IncomingRequestAdmission`): ms-left = 0 is never delivered
///   (answer REPLY timed-out at once); a second REQUEST with an id still pending from the same
///   relay is refused as `.duplicate` (answer nothing: the first one will be answered).
/// * Every admitted request leaves exactly once: `answer` (the member replied: send REPLY to the
///   origin), `expire` (send REPLY timed-out to the origin), or `originFailed` (the origin relay is
///   gone: drop, nobody to answer).
/// * No clock is read: callers pass `now` / `arrival`.
public struct ServedRemoteRequests<Context> {
    private var table = DeadlineTable<OriginRequest, Context>()

    public init() {}

    /// The decision for an arriving REQUEST frame.
    public enum Admission: Equatable, Sendable {
        /// Deliver to a local member with v1 timeout field T = `clientTimeoutMilliseconds`.
        case deliver(clientTimeoutMilliseconds: UInt64)
        /// Answer REPLY timed-out now; nothing was recorded.
        case answerTimedOut
        /// The id is already pending from that relay; ignore this frame.
        case duplicate
    }

    public var count: Int { table.count }
    public var nextDeadline: NIODeadline? { table.nextDeadline }

    /// Requests pending here on behalf of `node`.
    public func pending(from node: NodeID) -> Int { table.count(concerning: node) }

    /// A REQUEST frame arrived; `context` says where it was delivered (connection, relay id, …).
    public mutating func admit(_ request: OriginRequest, millisecondsLeft: UInt64, arrival: NIODeadline,
                               context: Context) -> Admission {
        guard !table.contains(request) else { return .duplicate }
        switch IncomingRequestAdmission(millisecondsLeft: millisecondsLeft, arrival: arrival) {
        case .answerTimedOut:
            return .answerTimedOut
        case let .deliver(deadline, timeout):
            _ = table.insert(request, node: request.node, deadline: deadline, value: context)
            return .deliver(clientTimeoutMilliseconds: timeout)
        }
    }

    /// The local member answered: returns the context if the request is still pending (send the
    /// REPLY frame), `nil` if it already expired or its origin failed (drop the answer).
    public mutating func answer(_ request: OriginRequest) -> Context? {
        table.remove(request)?.value
    }

    /// Requests whose deadline is ≤ `now`, earliest first: answer each with REPLY timed-out.
    public mutating func expire(now: NIODeadline) -> [(request: OriginRequest, context: Context)] {
        table.expire(now: now).map { ($0.key, $0.value) }
    }

    /// The origin relay failed: forget its requests (returned so the caller can clean up).
    public mutating func originFailed(_ node: NodeID) -> [(request: OriginRequest, context: Context)] {
        table.removeAll(concerning: node).map { ($0.key, $0.value) }
    }
}

extension ServedRemoteRequests: Sendable where Context: Sendable {}
