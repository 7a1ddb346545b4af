import PlexusMembership

/// A binary min-heap of timed events, ordered by (time, insertion sequence).
///
/// Guarantees: `pop` returns events in non-decreasing time order, ties in insertion order, so
/// simulations are deterministic. The heap itself holds only plain (time, sequence, slot) keys;
/// payloads stay put in a slot array, so sifting moves no reference-counted data.
struct EventHeap<Payload> {
    struct Entry {
        let time: Milliseconds
        let sequence: UInt64
        let payload: Payload
    }

    private struct Key {
        let time: Milliseconds
        let sequence: UInt64
        let slot: Int32
    }

    private var keys: [Key] = []
    private var payloads: [Payload?] = []
    private var freeSlots: [Int32] = []
    private var nextSequence: UInt64 = 0

    var count: Int { keys.count }
    var isEmpty: Bool { keys.isEmpty }
    var nextTime: Milliseconds? { keys.first?.time }

    private static func precedes(_ lhs: Key, _ rhs: Key) -> Bool {
        lhs.time != rhs.time ? lhs.time < rhs.time : lhs.sequence < rhs.sequence
    }

    mutating func push(_ payload: Payload, at time: Milliseconds) {
        nextSequence += 1
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            payloads[Int(slot)] = payload
        } else {
            slot = Int32(payloads.count)
            payloads.append(payload)
        }
        let key = Key(time: time, sequence: nextSequence, slot: slot)
        keys.append(key)
        var child = keys.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(key, keys[parent]) else { break }
            keys[child] = keys[parent]
            child = parent
        }
        keys[child] = key
    }

    mutating func pop() -> Entry? {
        guard let top = keys.first else { return nil }
        let last = keys.removeLast()
        if !keys.isEmpty {
            var parent = 0
            let count = keys.count
            while true {
                let left = 2 * parent + 1
                guard left < count else { break }
                let right = left + 1
                let smaller = right < count && Self.precedes(keys[right], keys[left]) ? right : left
                guard Self.precedes(keys[smaller], last) else { break }
                keys[parent] = keys[smaller]
                parent = smaller
            }
            keys[parent] = last
        }
        let payload = payloads[Int(top.slot)].take()!
        freeSlots.append(top.slot)
        return Entry(time: top.time, sequence: top.sequence, payload: payload)
    }
}
