/// Limits of `ConnectionAdmission`. Defaults fit one relay's peer port: a few hundred idle
/// connections from an attacker can hold at most `maximumTotal - reservedForKnownPeers` slots.
public struct ConnectionAdmissionLimits: Sendable, Equatable {
    /// Unauthenticated connections (handshake not completed) from one source address.
    public var maximumPerSource: Int
    /// Unauthenticated connections in total, reserve included.
    public var maximumTotal: Int
    /// Slots of `maximumTotal` that only sources the caller knows (members' addresses) may take.
    public var reservedForKnownPeers: Int
    /// Milliseconds a connection may stay unauthenticated before it is closed.
    public var handshakeTimeout: Int64
    /// Authenticated connections kept at most (each closed at once above it).
    public var maximumAuthenticated: Int

    public init(maximumPerSource: Int = 8, maximumTotal: Int = 64, reservedForKnownPeers: Int = 16,
                handshakeTimeout: Int64 = 5_000, maximumAuthenticated: Int = 256) {
        precondition(maximumPerSource > 0 && maximumTotal > 0 && handshakeTimeout > 0 && maximumAuthenticated > 0)
        precondition(reservedForKnownPeers >= 0 && reservedForKnownPeers < maximumTotal)
        self.maximumPerSource = maximumPerSource
        self.maximumTotal = maximumTotal
        self.reservedForKnownPeers = reservedForKnownPeers
        self.handshakeTimeout = handshakeTimeout
        self.maximumAuthenticated = maximumAuthenticated
    }
}

/// Admission of accepted connections on a listener whose connections must authenticate (a
/// Noise handshake), as a pure state machine: events (`accepted`, `handshakeCompleted`,
/// `closed`) and the current time in, decisions out. It never reads a clock.
///
/// Guarantees, at every moment:
/// * unauthenticated connections from one source ≤ `maximumPerSource`;
/// * unauthenticated connections in total ≤ `maximumTotal`, and unknown sources hold at most
///   `maximumTotal - reservedForKnownPeers` of them, so known peers can always still connect
///   while strangers hold every other slot;
/// * authenticated connections ≤ `maximumAuthenticated`;
/// * a connection unauthenticated for `handshakeTimeout` is returned by `expired(now:)` (the
///   caller closes it); `nextDeadline` says when to ask.
/// Memory is bounded by the connections it admitted (refused ones leave no trace).
public struct ConnectionAdmission: Sendable {
    public typealias ConnectionID = UInt64

    public enum Refusal: String, Sendable, Equatable, CaseIterable {
        /// The source already holds `maximumPerSource` unauthenticated connections.
        case perSourceLimit
        /// All unauthenticated slots open to this source are taken (for an unknown source, the
        /// reserve for known peers is left free).
        case totalLimit
        /// `maximumAuthenticated` connections are established.
        case authenticatedLimit
    }

    public enum Decision: Sendable, Equatable {
        /// Keep the connection; close it if still unauthenticated at `handshakeDeadline`.
        case admit(handshakeDeadline: Int64)
        /// Close it now.
        case refuse(Refusal)
    }

    private struct Pending: Sendable {
        let source: String
        let isKnownPeer: Bool
        let deadline: Int64
    }

    public let limits: ConnectionAdmissionLimits
    private var pending: [ConnectionID: Pending] = [:]
    private var pendingBySource: [String: Int] = [:]
    private var unknownPending = 0
    private var authenticated: Set<ConnectionID> = []

    public init(limits: ConnectionAdmissionLimits = ConnectionAdmissionLimits()) {
        self.limits = limits
    }

    /// Unauthenticated connections now.
    public var unauthenticatedCount: Int { pending.count }
    /// Unauthenticated connections from `source` now.
    public func unauthenticatedCount(from source: String) -> Int { pendingBySource[source] ?? 0 }
    /// Authenticated connections now.
    public var authenticatedCount: Int { authenticated.count }

    /// A connection `id` from `source` (its IP address as text) was accepted. `isKnownPeer`:
    /// the caller recognises the source (a member's address), which may use the reserve.
    public mutating func accepted(_ id: ConnectionID, from source: String, isKnownPeer: Bool, now: Int64) -> Decision {
        guard pending[id] == nil, !authenticated.contains(id) else {
            return .admit(handshakeDeadline: pending[id]?.deadline ?? now)
        }
        if unauthenticatedCount(from: source) >= limits.maximumPerSource { return .refuse(.perSourceLimit) }
        if pending.count >= limits.maximumTotal { return .refuse(.totalLimit) }
        if !isKnownPeer && unknownPending >= limits.maximumTotal - limits.reservedForKnownPeers {
            return .refuse(.totalLimit)
        }
        let deadline = now + limits.handshakeTimeout
        pending[id] = Pending(source: source, isKnownPeer: isKnownPeer, deadline: deadline)
        pendingBySource[source, default: 0] += 1
        if !isKnownPeer { unknownPending += 1 }
        return .admit(handshakeDeadline: deadline)
    }

    /// The connection authenticated. Returns false if it must be closed now (over
    /// `maximumAuthenticated`, or unknown: it expired or was never admitted).
    public mutating func handshakeCompleted(_ id: ConnectionID) -> Bool {
        guard removePending(id) else { return false }
        guard authenticated.count < limits.maximumAuthenticated else { return false }
        authenticated.insert(id)
        return true
    }

    /// The connection is gone (whatever its state). Unknown IDs are ignored.
    public mutating func closed(_ id: ConnectionID) {
        if !removePending(id) { authenticated.remove(id) }
    }

    /// Connections still unauthenticated at `now` past their deadline, forgotten here; the caller
    /// closes them. Sorted, so equal inputs give equal outputs.
    public mutating func expired(now: Int64) -> [ConnectionID] {
        let due = pending.filter { $0.value.deadline <= now }.keys.sorted()
        for id in due { removePending(id) }
        return due
    }

    /// The earliest handshake deadline, if any connection is unauthenticated.
    public var nextDeadline: Int64? { pending.values.map(\.deadline).min() }

    @discardableResult
    private mutating func removePending(_ id: ConnectionID) -> Bool {
        guard let entry = pending.removeValue(forKey: id) else { return false }
        let remaining = (pendingBySource[entry.source] ?? 1) - 1
        pendingBySource[entry.source] = remaining > 0 ? remaining : nil
        if !entry.isKnownPeer { unknownPending -= 1 }
        return true
    }
}
