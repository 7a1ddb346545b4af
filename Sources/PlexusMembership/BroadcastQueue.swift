/// The queue of updates waiting to be piggybacked, with a per-update retransmit limit.
///
/// Guarantees: at most one pending membership update and one pending record per subject (a newer
/// one replaces the older); updates sent fewer times go first (newer first among equals, up to the
/// order in which retransmitted updates re-enter their bucket); an update is dropped after `limit`
/// transmissions; a selection never exceeds the byte budget given. Updates larger than
/// `oversizeThreshold` are kept apart for the stream path. Selection costs O(updates examined), not
/// a sort of the whole queue.
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

    private struct Slot: Sendable {
        let key: Key
        let order: UInt64
    }

    let oversizeThreshold: Int
    private var entries: [Key: Entry] = [:]
    private var oversized: [Key: Entry] = [:]
    /// `buckets[t]`: slots of entries sent `t` times, oldest first. Slots may be stale (entry
    /// replaced, removed or moved on); they are dropped when examined.
    private var buckets: [[Slot]] = []
    private var nextOrder: UInt64 = 0

    init(oversizeThreshold: Int) {
        self.oversizeThreshold = oversizeThreshold
    }

    var count: Int { entries.count + oversized.count }
    var isEmpty: Bool { entries.isEmpty && oversized.isEmpty }

    /// Queues `update`, replacing any pending update of the same kind about the same subject.
    mutating func enqueue(_ update: MembershipUpdate) {
        nextOrder += 1
        let key = Key(subject: update.subject, isRecord: update.isRecord)
        let entry = Entry(update: update, size: MembershipEncoder.size(of: update), transmits: 0, order: nextOrder)
        entries[key] = nil
        oversized[key] = nil
        if entry.size > oversizeThreshold {
            oversized[key] = entry
            return
        }
        entries[key] = entry
        if buckets.isEmpty { buckets.append([]) }
        buckets[0].append(Slot(key: key, order: nextOrder))
    }

    /// Removes any pending update of the given kind about `subject`.
    mutating func remove(subject: NodeID, isRecord: Bool) {
        let key = Key(subject: subject, isRecord: isRecord)
        entries[key] = nil
        oversized[key] = nil
    }

    /// Picks updates fitting in `budget` bytes (at most `maxCount`), counts one transmission for
    /// each and drops those that reached `limit`.
    mutating func select(budget: Int, maxCount: Int, limit: Int) -> [MembershipUpdate] {
        guard !entries.isEmpty, budget > 0, maxCount > 0 else { return [] }
        var remaining = budget
        var chosen: [MembershipUpdate] = []
        var promoted: [(Slot, Int)] = []
        let smallestUpdate = 1 + 16 + 8
        var transmits = 0
        // Give up after this many updates that did not fit: a nearly full packet must not cost a
        // scan of the whole queue.
        var misfitsLeft = 16
        while transmits < buckets.count && chosen.count < maxCount && remaining >= smallestUpdate && misfitsLeft > 0 {
            var bucket = buckets[transmits]
            buckets[transmits] = []
            var kept: [Slot] = []
            var index = bucket.count - 1
            while index >= 0 && chosen.count < maxCount && remaining >= smallestUpdate && misfitsLeft > 0 {
                let slot = bucket[index]
                index -= 1
                guard let entry = entries[slot.key], entry.order == slot.order, entry.transmits == transmits else { continue }
                guard entry.size <= remaining else { kept.append(slot); misfitsLeft -= 1; continue }
                remaining -= entry.size
                chosen.append(entry.update)
                if transmits + 1 >= limit {
                    entries[slot.key] = nil
                } else {
                    entries[slot.key]!.transmits = transmits + 1
                    promoted.append((slot, transmits + 1))
                }
            }
            bucket.removeSubrange((index + 1)...)
            bucket.append(contentsOf: kept.reversed())
            buckets[transmits] = bucket
            transmits += 1
        }
        for (slot, bucket) in promoted {
            while buckets.count <= bucket { buckets.append([]) }
            buckets[bucket].append(slot)
        }
        if entries.isEmpty { buckets.removeAll(keepingCapacity: true) }
        return chosen
    }

    /// Takes one update larger than `oversizeThreshold` (it must travel on the stream path),
    /// counting a transmission.
    mutating func takeOversized(limit: Int) -> MembershipUpdate? {
        guard let (key, entry) = oversized.min(by: { $0.value.order < $1.value.order }) else { return nil }
        if entry.transmits + 1 >= limit { oversized[key] = nil } else { oversized[key]!.transmits += 1 }
        return entry.update
    }

    /// The pending updates, oldest first (for tests and diagnostics).
    var pending: [MembershipUpdate] {
        (Array(entries.values) + Array(oversized.values)).sorted { $0.order < $1.order }.map(\.update)
    }
}
