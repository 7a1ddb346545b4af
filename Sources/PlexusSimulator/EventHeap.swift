import PlexusMembership

/// A binary min-heap of timed events, ordered by (time, insertion sequence).
///
/// Guarantees: `pop` returns events in non-decreasing time order, ties in insertion order, so
/// simulations are deterministic.
struct EventHeap<Payload> {
    struct Entry {
        let time: Milliseconds
        let sequence: UInt64
        let payload: Payload
    }

    private var storage: [Entry] = []
    private var nextSequence: UInt64 = 0

    var count: Int { storage.count }
    var isEmpty: Bool { storage.isEmpty }
    var nextTime: Milliseconds? { storage.first?.time }

    private static func precedes(_ lhs: Entry, _ rhs: Entry) -> Bool {
        lhs.time != rhs.time ? lhs.time < rhs.time : lhs.sequence < rhs.sequence
    }

    mutating func push(_ payload: Payload, at time: Milliseconds) {
        nextSequence += 1
        storage.append(Entry(time: time, sequence: nextSequence, payload: payload))
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(storage[child], storage[parent]) else { break }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard !storage.isEmpty else { return nil }
        storage.swapAt(0, storage.count - 1)
        let top = storage.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < storage.count && Self.precedes(storage[left], storage[smallest]) { smallest = left }
            if right < storage.count && Self.precedes(storage[right], storage[smallest]) { smallest = right }
            if smallest == parent { break }
            storage.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
