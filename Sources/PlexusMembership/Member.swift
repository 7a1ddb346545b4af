/// The liveness status of a member. Precedence at equal incarnation: left > dead > suspect > alive.
public enum MemberStatus: UInt8, Sendable, Equatable, CustomStringConvertible {
    case alive = 0
    case suspect = 1
    case dead = 2
    case left = 3

    /// Alive or suspect: still counted, probed and served by the directory.
    public var isReachable: Bool { self == .alive || self == .suspect }

    public var description: String {
        switch self {
        case .alive: "alive"
        case .suspect: "suspect"
        case .dead: "dead"
        case .left: "left"
        }
    }
}

/// What the local node knows about one member.
///
/// Guarantees: `incarnation` never decreases for a given `id` while the entry exists.
public struct Member: Sendable, Equatable {
    public let id: NodeID
    public var address: NodeAddress
    // Declared before `incarnation` so it packs next to the address's port (56 bytes, not 64):
    // every member holds one of these per known member.
    public var status: MemberStatus
    public var incarnation: UInt64
    /// When `status` last changed, on the caller's clock.
    public var statusSince: Milliseconds

    public init(id: NodeID, address: NodeAddress, incarnation: UInt64, status: MemberStatus, statusSince: Milliseconds) {
        self.id = id
        self.address = address
        self.incarnation = incarnation
        self.status = status
        self.statusSince = statusSince
    }
}

/// A change of a member's status as seen by the local node (reported in a directive).
public struct MemberChange: Sendable, Equatable {
    public let member: Member
    /// nil when the member was not known before.
    public let previousStatus: MemberStatus?
}
