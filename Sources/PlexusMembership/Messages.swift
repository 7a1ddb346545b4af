/// One piece of disseminated state, piggybacked on membership messages.
///
/// Guarantees: each case names its subject; ordering between updates about one subject is decided
/// by incarnation (membership) or version (records), never by arrival order.
public enum MembershipUpdate: Sendable, Equatable {
    case alive(NodeID, incarnation: UInt64, address: NodeAddress)
    case suspect(NodeID, incarnation: UInt64, accuser: NodeID)
    case dead(NodeID, incarnation: UInt64, accuser: NodeID)
    case left(NodeID, incarnation: UInt64)
    /// Indirect: a record holds several arrays, and updates are copied into every packet; a boxed
    /// payload keeps the enum small and a copy to one retain.
    indirect case record(DirectoryRecord)

    /// The member this update is about.
    public var subject: NodeID {
        switch self {
        case .alive(let id, _, _), .suspect(let id, _, _), .dead(let id, _, _), .left(let id, _): id
        case .record(let record): record.node
        }
    }

    var isRecord: Bool { if case .record = self { true } else { false } }
}

/// One member's state as carried in a push-pull exchange.
public struct MemberState: Sendable, Equatable {
    public var id: NodeID
    public var address: NodeAddress
    public var incarnation: UInt64
    public var status: MemberStatus

    public init(id: NodeID, address: NodeAddress, incarnation: UInt64, status: MemberStatus) {
        self.id = id
        self.address = address
        self.incarnation = incarnation
        self.status = status
    }
}

/// The membership protocol's messages.
public enum MembershipMessage: Sendable, Equatable {
    /// Direct probe of `target` (the receiver); answered by `ack` with the same sequence.
    case ping(sequence: UInt32, target: NodeID, updates: [MembershipUpdate])
    case ack(sequence: UInt32, updates: [MembershipUpdate])
    /// Ask the receiver to probe `target` on the sender's behalf (indirect probe).
    case pingRequest(sequence: UInt32, target: NodeID, targetAddress: NodeAddress, updates: [MembershipUpdate])
    /// Sent by an indirect prober that got no ack in time (Lifeguard: proves the path to it works).
    case nack(sequence: UInt32)
    /// Pure dissemination.
    case gossip(updates: [MembershipUpdate])
    /// Full state exchange (stream path). A request is answered with a reply.
    case pushPull(isReply: Bool, members: [MemberState], records: [DirectoryRecord])
}

/// A message and the node that sent it: the unit the codec encodes.
public struct MembershipPacket: Sendable, Equatable {
    public var sender: NodeID
    public var message: MembershipMessage

    public init(sender: NodeID, message: MembershipMessage) {
        self.sender = sender
        self.message = message
    }
}

/// How a packet must be carried.
public enum MembershipTransport: Sendable, Equatable {
    /// One datagram, at most `packetBudget` bytes; may be lost.
    case datagram
    /// The reliable stream path (large records, push-pull, joins).
    case stream
}

/// What the shell must do after feeding an event to `Membership`.
public enum MembershipDirective: Sendable, Equatable {
    /// Send `packet` to the member at `address`.
    case send(MembershipPacket, to: NodeAddress, transport: MembershipTransport)
    /// Open a stream to `address` (a seed or a recently dead member) and, once connected, send
    /// `Membership.joinRequest()` (a push-pull request built at that moment, so nothing is built
    /// for connections that fail). Failure to connect is silent: the core retries with backoff.
    case attemptJoin(NodeAddress)
    /// A member's status changed (joined, suspected, refuted, dead, left).
    case memberChanged(MemberChange)
    /// The directory changed; fetch a fresh `DirectorySnapshot` with `directorySnapshot()`.
    case directoryChanged
    /// Call `tick(now:)` at (or soon after) this time. Replaces any earlier scheduled tick.
    case scheduleTick(at: Milliseconds)
}
