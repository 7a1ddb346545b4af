/// The members this node knows (tombstones included), keyed by `NodeID`, and the reachable ones
/// ("peers") in an array for O(1) insert, remove and uniform random choice.
///
/// Guarantees: `peers` has no duplicates and holds only IDs present in the table; a peer's
/// position in `peers` is kept in the member's own slot, so one hash table serves both (a
/// separate position index was a second NodeID table per member, ~200 KB each at 5,000 members);
/// `randomPeers` returns distinct elements.
struct MemberTable: Sendable {
    private struct Slot: Sendable {
        var member: Member
        /// Index in `peers`, or -1 when not a peer.
        var peerPosition: Int32
    }

    private var slots: [NodeID: Slot] = [:]
    private(set) var peers: [NodeID] = []

    var count: Int { slots.count }
    var peerCount: Int { peers.count }
    var values: [Member] { slots.values.map(\.member) }

    subscript(id: NodeID) -> Member? {
        get { slots[id]?.member }
        set {
            guard let newValue else {
                removePeer(id)
                slots[id] = nil
                return
            }
            slots[id, default: Slot(member: newValue, peerPosition: -1)].member = newValue
        }
    }

    func isPeer(_ id: NodeID) -> Bool { (slots[id]?.peerPosition ?? -1) >= 0 }

    /// Marks a known member reachable (no effect for unknown IDs or current peers).
    mutating func insertPeer(_ id: NodeID) {
        guard let position = slots[id]?.peerPosition, position < 0 else { return }
        slots[id]!.peerPosition = Int32(peers.count)
        peers.append(id)
    }

    mutating func removePeer(_ id: NodeID) {
        guard let position = slots[id]?.peerPosition, position >= 0 else { return }
        slots[id]!.peerPosition = -1
        let last = peers.removeLast()
        if Int(position) < peers.count {
            peers[Int(position)] = last
            slots[last]!.peerPosition = position
        }
    }

    /// Up to `count` distinct random peers, skipping `excluding`.
    func randomPeers(_ count: Int, excluding: NodeID? = nil, using random: inout SeededGenerator) -> [NodeID] {
        var chosen: [NodeID] = []
        guard count > 0, !peers.isEmpty else { return chosen }
        chosen.reserveCapacity(count)
        var attempts = 0
        while chosen.count < count && attempts < count * 4 + 8 {
            attempts += 1
            let candidate = peers[Int(random.next() % UInt64(peers.count))]
            if candidate == excluding || chosen.contains(candidate) { continue }
            chosen.append(candidate)
        }
        if chosen.count < count && peers.count <= count * 4 {
            for candidate in peers where chosen.count < count && candidate != excluding && !chosen.contains(candidate) {
                chosen.append(candidate)
            }
        }
        return chosen
    }
}
