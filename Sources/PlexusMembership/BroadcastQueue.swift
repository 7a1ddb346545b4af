/// The queue of updates waiting to be piggybacked, with a per-update retransmit limit.
///
/// Guarantees: at most one pending membership update and one pending record per subject (a newer
/// one replaces the older); updates sent fewest times go first (newest first among equals); an
/// update is dropped after `limit` transmissions; a selection never exceeds the byte budget given.
struct BroadcastQueue: Sendable {
    struct Key: Hashable, Sendable {
        let subject: NodeID
        let isRecord: Bool
    }

    struct Entry: Sendable {
        let update: MembershipUpdate
        let size: Int
        var transmits: Int
        let order: UInt64
    }

    private var entries: [Key: Entry] = [:]
    private var nextOrder: UInt64 = 0

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// Queues `update`, replacing any pending update of the same kind about the same subject.
    mutating func enqueue(_ update: MembershipUpdate) {
        nextOrder += 1
        entries[Key(subject: update.subject, isRecord: update.isRecord)] =
            Entry(update: update, size: MembershipEncoder.size(of: update), transmits: 0, order: nextOrder)
    }

    /// Removes any pending update of the given kind about `subject`.
    mutating func remove(subject: NodeID, isRecord: Bool) {
        entries[Key(subject: subject, isRecord: isRecord)] = nil
    }

    /// Picks updates fitting in `budget` bytes (at most `maxCount`), counts one transmission for
    /// each and drops those that reached `limit`. Updates larger than `budget` are never returned here
    /// (see `takeOversized`).
    mutating func select(budget: Int, maxCount: Int, limit: Int) -> [MembershipUpdate] {
        guard !entries.isEmpty, budget > 0 else { return [] }
        let ordered = entries.sorted { lhs, rhs in
            lhs.value.transmits != rhs.value.transmits ? lhs.value.transmits < rhs.value.transmits
                : lhs.value.order > rhs.value.order
        }
        var remaining = budget
        var chosen: [MembershipUpdate] = []
        for (key, entry) in ordered {
            if chosen.count >= maxCount || remaining < 25 { break }
            guard entry.size <= remaining else { continue }
            remaining -= entry.size
            chosen.append(entry.update)
            if entry.transmits + 1 >= limit { entries[key] = nil } else { entries[key]!.transmits += 1 }
        }
        return chosen
    }

    /// Takes one update larger than `budget` (it must travel on the stream path), counting a transmission.
    mutating func takeOversized(budget: Int, limit: Int) -> MembershipUpdate? {
        guard let (key, entry) = entries.first(where: { $0.value.size > budget }) else { return nil }
        if entry.transmits + 1 >= limit { entries[key] = nil } else { entries[key]!.transmits += 1 }
        return entry.update
    }

    /// The pending updates (for tests and diagnostics).
    var pending: [MembershipUpdate] { entries.values.sorted { $0.order < $1.order }.map(\.update) }
}
