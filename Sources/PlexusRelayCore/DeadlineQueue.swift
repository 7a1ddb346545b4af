import HeapModule
import NIOCore

/// What a deadline is for. Entries are never removed early: when one fires, the core checks
/// whether the thing it names is still pending (lazy deletion), so answering a request costs no
/// heap operation.
enum DeadlineKind: Hashable, Sendable {
    /// The connection must have completed its handshake.
    case handshake(ConnectionID)
    /// Request `relayID` delivered to `server` must be answered.
    case deliveredRequest(server: ConnectionID, relayID: UInt64)
    /// Tunnel offer `buildID` on `acceptor` must be confirmed.
    case tunnelOffer(acceptor: ConnectionID, buildID: UInt64)
    /// A tunnel construction sent to another relay (this relay's id) must be answered.
    case remoteTunnelInit(UInt64)
    /// A request handed to the federation (ticket) must be answered (backstop: the gateway
    /// answers at the same deadline; `Docs/federation.md`).
    case federationRequest(UInt64)
}

/// A min-heap of deadlines. The driver schedules ONE timer for `nextDeadline` and calls the
/// core's `expire(now:)` when it fires.
struct DeadlineQueue {
    struct Entry: Comparable {
        var deadline: NIODeadline
        var sequence: UInt64 // FIFO among equal deadlines; makes the order total
        var kind: DeadlineKind
        static func < (l: Entry, r: Entry) -> Bool {
            l.deadline != r.deadline ? l.deadline < r.deadline : l.sequence < r.sequence
        }
        static func == (l: Entry, r: Entry) -> Bool { l.sequence == r.sequence }
    }

    private var heap = Heap<Entry>()
    private var sequence: UInt64 = 0

    mutating func schedule(_ kind: DeadlineKind, at deadline: NIODeadline) {
        sequence &+= 1
        heap.insert(Entry(deadline: deadline, sequence: sequence, kind: kind))
    }

    package var nextDeadline: NIODeadline? { heap.min?.deadline }

    /// Removes and returns the earliest entry due at `now`, if any.
    mutating func popDue(now: NIODeadline) -> DeadlineKind? {
        guard let first = heap.min, first.deadline <= now else { return nil }
        return heap.removeMin().kind
    }

    var count: Int { heap.count }

    /// Size at which `compact(keeping:)` is worth running next.
    private(set) var compactionThreshold = 4096

    /// Whether enough entries accumulated that stale ones should be swept.
    var needsCompaction: Bool { heap.count >= compactionThreshold }

    /// Drops every entry for which `isLive` is false (answered requests, confirmed offers,
    /// completed handshakes), in O(n). Run when the heap doubled since the last sweep, this keeps
    /// the heap proportional to the live entries at amortised O(1) per insert.
    mutating func compact(keeping isLive: (DeadlineKind) -> Bool) {
        heap = Heap(heap.unordered.filter { isLive($0.kind) })
        compactionThreshold = max(4096, 2 * heap.count)
    }
}
