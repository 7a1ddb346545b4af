/// The queue of updates waiting to be piggybacked, with a per-update retransmit limit.
///
/// Guarantees: at most one pending membership update and one pending record per subject (a newer
/// one replaces the older); updates sent fewer times go first (newer first among equals, up to the
/// order in which retransmitted updates re-enter their bucket); an update is dropped after `limit`
/// transmissions; a selection never exceeds the byte budget given. Updates larger than
/// `oversizeThreshold` are kept apart for the stream path. Selection costs O(updates examined), not
/// a sort of the whole queue, and does no hashing: entries live in a slot array that the buckets
/// index directly (one dictionary lookup per enqueue, replacement and expiry only).
struct BroadcastQueue: Sendable {
    struct Key: Hashable, Sendable {
        let subject: NodeID
        let isRecord: Bool

        /// Same seeded mix as `NodeID` (see there); the kind only perturbs the seed.
        func _rawHashValue(seed: Int) -> Int { subject._rawHashValue(seed: isRecord ? ~seed : seed) }
    }

    struct Entry: Sendable {
        let update: MembershipUpdate
        let size: Int
        var transmits: Int
        let order: UInt64
    }

    /// Per-slot bookkeeping read by `select` for every candidate; kept apart from the updates so
    /// examining a candidate copies no reference-counted payload.
    private struct SlotState: Sendable {
        var order: UInt64
        var transmits: Int
        var size: Int
    }

    /// A bucket's reference to a slot; stale when the slot's entry has another `order`.
    private struct Slot: Sendable {
        let index: Int32
        let order: UInt64
    }

    let oversizeThreshold: Int
    private var states: [SlotState] = []
    private var updates: [MembershipUpdate?] = []
    private var keys: [Key?] = []
    private var freeSlots: [Int32] = []
    private var slotOf: [Key: Int32] = [:]
    private var oversized: [Key: Entry] = [:]
    /// `buckets[t]`: slots of entries sent `t` times, oldest first. Slots may be stale (entry
    /// replaced, removed or moved on); they are dropped when examined.
    private var buckets: [[Slot]] = []
    private var nextOrder: UInt64 = 0

    init(oversizeThreshold: Int) {
        self.oversizeThreshold = oversizeThreshold
    }

    var count: Int { slotOf.count + oversized.count }
    var isEmpty: Bool { slotOf.isEmpty && oversized.isEmpty }

    /// Queues `update`, replacing any pending update of the same kind about the same subject.
    mutating func enqueue(_ update: MembershipUpdate) {
        nextOrder += 1
        let key = Key(subject: update.subject, isRecord: update.isRecord)
        let size = MembershipEncoder.size(of: update)
        if !oversized.isEmpty { oversized[key] = nil }
        if size > oversizeThreshold {
            remove(key)
            oversized[key] = Entry(update: update, size: size, transmits: 0, order: nextOrder)
            return
        }
        let index: Int32
        if let existing = slotOf[key] {
            index = existing
        } else if let free = freeSlots.popLast() {
            index = free
            slotOf[key] = index
        } else {
            index = Int32(states.count)
            states.append(SlotState(order: 0, transmits: 0, size: 0))
            updates.append(nil)
            keys.append(nil)
            slotOf[key] = index
        }
        states[Int(index)] = SlotState(order: nextOrder, transmits: 0, size: size)
        updates[Int(index)] = update
        keys[Int(index)] = key
        if buckets.isEmpty { buckets.append([]) }
        buckets[0].append(Slot(index: index, order: nextOrder))
    }

    /// Removes any pending update of the given kind about `subject`.
    mutating func remove(subject: NodeID, isRecord: Bool) {
        let key = Key(subject: subject, isRecord: isRecord)
        remove(key)
        if !oversized.isEmpty { oversized[key] = nil }
    }

    private mutating func remove(_ key: Key) {
        guard let index = slotOf.removeValue(forKey: key) else { return }
        release(index)
    }

    private mutating func release(_ index: Int32) {
        states[Int(index)].order = 0
        updates[Int(index)] = nil
        keys[Int(index)] = nil
        freeSlots.append(index)
        if slotOf.isEmpty {
            states.removeAll(keepingCapacity: true)
            updates.removeAll(keepingCapacity: true)
            keys.removeAll(keepingCapacity: true)
            freeSlots.removeAll(keepingCapacity: true)
            buckets.removeAll(keepingCapacity: true)
        }
    }

    /// Picks updates fitting in `budget` bytes (at most `maxCount`), counts one transmission for
    /// each and drops those that reached `limit`.
    mutating func select(budget: Int, maxCount: Int, limit: Int) -> [MembershipUpdate] {
        guard !slotOf.isEmpty, budget > 0, maxCount > 0 else { return [] }
        var remaining = budget
        var chosen: [MembershipUpdate] = []
        var promoted: [(Slot, Int)] = []
        var expired: [Int32] = []
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
                let state = states[Int(slot.index)]
                guard state.order == slot.order, state.transmits == transmits else { continue }
                guard state.size <= remaining else { kept.append(slot); misfitsLeft -= 1; continue }
                remaining -= state.size
                chosen.append(updates[Int(slot.index)]!)
                if transmits + 1 >= limit {
                    // Expire after the scan: releasing may reset the buckets being walked.
                    states[Int(slot.index)].transmits = Int.max
                    expired.append(slot.index)
                } else {
                    states[Int(slot.index)].transmits = transmits + 1
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
        for index in expired {
            guard Int(index) < keys.count, let key = keys[Int(index)] else { continue }
            slotOf[key] = nil
            release(index)
        }
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
        var all = Array(oversized.values)
        for index in states.indices {
            guard let update = updates[index] else { continue }
            all.append(Entry(update: update, size: states[index].size, transmits: states[index].transmits,
                             order: states[index].order))
        }
        return all.sorted { $0.order < $1.order }.map(\.update)
    }
}
