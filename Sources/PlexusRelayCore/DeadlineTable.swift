import HeapModule
import NIOCore
import PlexusMembership

/// Pending entries keyed by `Key`, each with a deadline and the relay it concerns; the shared
/// core of `RemoteRequests` and `ServedRemoteRequests`.
///
/// Guarantees: each inserted entry is removed exactly once (by `remove`, `expire` or
/// `removeAll(concerning:)`); `expire` returns entries in deadline order (insertion order on
/// ties); `nextDeadline` is always a live entry's deadline; the heap deletes lazily but is rebuilt
/// when stale entries outnumber live ones, so memory stays proportional to the live entries.
/// It lives in the same module as its one user, the relay core, so `RemoteRequests<ClientRequest>`
/// is specialised by the compiler without `@inlinable` annotations.
struct DeadlineTable<Key: Hashable, Value> {
    struct Entry {
        var key: Key
        var node: NodeID
        var deadline: NIODeadline
        var value: Value
        var sequence: UInt64

        init(key: Key, node: NodeID, deadline: NIODeadline, value: Value, sequence: UInt64) {
            self.key = key
            self.node = node
            self.deadline = deadline
            self.value = value
            self.sequence = sequence
        }
    }

    struct HeapKey: Comparable {
        var deadline: NIODeadline
        var sequence: UInt64
        var key: Key

        init(deadline: NIODeadline, sequence: UInt64, key: Key) {
            self.deadline = deadline
            self.sequence = sequence
            self.key = key
        }

        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.deadline, lhs.sequence) < (rhs.deadline, rhs.sequence) }
        static func == (lhs: Self, rhs: Self) -> Bool { lhs.sequence == rhs.sequence }
    }

    var entries: [Key: Entry]
    var keysByNode: [NodeID: Set<Key>]
    var heap: Heap<HeapKey>
    var nextSequence: UInt64

    init() {
        entries = [:]
        keysByNode = [:]
        heap = Heap()
        nextSequence = 0
    }

    var count: Int { entries.count }
    var heapCount: Int { heap.count }
    package var nextDeadline: NIODeadline? { heap.min?.deadline }

    func contains(_ key: Key) -> Bool { entries[key] != nil }
    func entry(_ key: Key) -> Entry? { entries[key] }
    func count(concerning node: NodeID) -> Int { keysByNode[node]?.count ?? 0 }

    /// Inserts a new entry; returns `false` (and changes nothing) if `key` is already present.
    mutating func insert(_ key: Key, node: NodeID, deadline: NIODeadline, value: Value) -> Bool {
        guard entries[key] == nil else { return false }
        let sequence = nextSequence
        nextSequence &+= 1
        entries[key] = Entry(key: key, node: node, deadline: deadline, value: value, sequence: sequence)
        keysByNode[node, default: []].insert(key)
        heap.insert(HeapKey(deadline: deadline, sequence: sequence, key: key))
        return true
    }

    mutating func remove(_ key: Key) -> Entry? {
        guard let entry = entries.removeValue(forKey: key) else { return nil }
        if let index = keysByNode.index(forKey: entry.node) {
            keysByNode.values[index].remove(key)
            if keysByNode.values[index].isEmpty { keysByNode.remove(at: index) }
        }
        dropStaleHeapEntries()
        return entry
    }

    package mutating func expire(now: NIODeadline) -> [Entry] {
        var expired: [Entry] = []
        while let first = heap.min, first.deadline <= now {
            _ = heap.removeMin()
            if entries[first.key]?.sequence == first.sequence, let entry = remove(first.key) {
                expired.append(entry)
            }
        }
        return expired
    }

    /// Removes every entry concerning `node`, in insertion order.
    mutating func removeAll(concerning node: NodeID) -> [Entry] {
        guard let keys = keysByNode[node] else { return [] }
        let ordered = keys.compactMap { entries[$0] }.sorted { $0.sequence < $1.sequence }
        return ordered.compactMap { remove($0.key) }
    }

    mutating func dropStaleHeapEntries() {
        while let first = heap.min, entries[first.key]?.sequence != first.sequence { _ = heap.removeMin() }
        if heap.count > 2 * entries.count + 64 {
            heap = Heap(entries.values.map { HeapKey(deadline: $0.deadline, sequence: $0.sequence, key: $0.key) })
        }
    }
}

extension DeadlineTable: Sendable where Key: Sendable, Value: Sendable {}
extension DeadlineTable.Entry: Sendable where Key: Sendable, Value: Sendable {}
extension DeadlineTable.HeapKey: Sendable where Key: Sendable {}
