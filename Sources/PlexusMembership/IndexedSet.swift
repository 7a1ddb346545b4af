/// A set of node IDs with O(1) insert, remove and uniform random choice.
///
/// Guarantees: no duplicates; `randomElements` returns distinct elements.
struct IndexedSet: Sendable {
    private(set) var elements: [NodeID] = []
    private var positions: [NodeID: Int] = [:]

    var count: Int { elements.count }

    func contains(_ id: NodeID) -> Bool { positions[id] != nil }

    mutating func insert(_ id: NodeID) {
        guard positions[id] == nil else { return }
        positions[id] = elements.count
        elements.append(id)
    }

    mutating func remove(_ id: NodeID) {
        guard let position = positions.removeValue(forKey: id) else { return }
        let last = elements.removeLast()
        if position < elements.count {
            elements[position] = last
            positions[last] = position
        }
    }

    /// Up to `count` distinct random elements, skipping those in `excluding`.
    func randomElements(_ count: Int, excluding: Set<NodeID> = [], using random: inout SeededGenerator) -> [NodeID] {
        var chosen: [NodeID] = []
        guard count > 0, !elements.isEmpty else { return chosen }
        var attempts = 0
        var taken = Set<NodeID>()
        while chosen.count < count && attempts < count * 4 + 8 {
            attempts += 1
            let candidate = elements[Int(random.next() % UInt64(elements.count))]
            if excluding.contains(candidate) || taken.contains(candidate) { continue }
            taken.insert(candidate)
            chosen.append(candidate)
        }
        if chosen.count < count && elements.count <= count * 4 {
            for candidate in elements where chosen.count < count && !excluding.contains(candidate) && !taken.contains(candidate) {
                taken.insert(candidate)
                chosen.append(candidate)
            }
        }
        return chosen
    }
}
