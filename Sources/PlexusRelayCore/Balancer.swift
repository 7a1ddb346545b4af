import PlexusMembership

/// A relay that could serve a request or tunnel, with what the balancer needs to know about it.
public struct BalancerCandidate: Equatable, Sendable {
    /// The relay (this relay's own id for local members).
    public var node: NodeID
    /// The relay's zone label from the directory.
    public var zone: PlexusMembership.Name
    /// Advertised capacity for the cluster (0 = always saturated).
    public var capacity: UInt32
    /// Requests (or tunnels) this relay currently has in flight toward `node`.
    public var inflight: Int

    public init(node: NodeID, zone: PlexusMembership.Name, capacity: UInt32, inflight: Int) {
        self.node = node
        self.zone = zone
        self.capacity = capacity
        self.inflight = max(0, inflight)
    }

    /// inflight ≥ capacity.
    public var isSaturated: Bool { UInt64(inflight) >= UInt64(capacity) }

    /// Whether `self` is strictly less loaded than `other`: inflight/capacity compared exactly by
    /// cross-multiplication; a zero capacity counts as infinite load, ties among those broken by
    /// fewer in-flight requests.
    public func isLessLoaded(than other: BalancerCandidate) -> Bool {
        switch (capacity == 0, other.capacity == 0) {
        case (true, true): return inflight < other.inflight
        case (true, false): return false
        case (false, true): return true
        case (false, false):
            let lhs = UInt64(inflight).multipliedFullWidth(by: UInt64(other.capacity))
            let rhs = UInt64(other.inflight).multipliedFullWidth(by: UInt64(capacity))
            return (lhs.high, lhs.low) < (rhs.high, rhs.low)
        }
    }
}

/// Locality tiers, best first.
public enum LocalityTier: Int, Comparable, Sendable, CaseIterable {
    case sameRelay = 0
    case sameZone = 1
    case elsewhere = 2

    public static func < (lhs: LocalityTier, rhs: LocalityTier) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The balancer's decision.
public struct BalancerChoice: Equatable, Sendable {
    public var node: NodeID
    public var tier: LocalityTier
    /// `true` when every candidate in every tier was saturated and the least loaded one overall
    /// was taken.
    public var allSaturated: Bool

    public init(node: NodeID, tier: LocalityTier, allSaturated: Bool) {
        self.node = node
        self.tier = tier
        self.allSaturated = allSaturated
    }
}

/// Chooses the relay for one request or tunnel in a single decision.
///
/// Guarantees:
/// * **Locality first**: tiers are this relay, then relays in this relay's zone, then any other.
///   The first tier with at least one unsaturated candidate (inflight < capacity) is used; a tier
///   whose candidates are all saturated overflows to the next one.
/// * **Power of two choices** within the tier: two distinct unsaturated candidates are drawn
///   uniformly at random and the less loaded (inflight/capacity) wins; on a tie the first draw
///   wins, so equal loads split evenly. A tier with one unsaturated candidate returns it.
/// * **All saturated**: the least loaded candidate overall (same comparison), ties broken by the
///   better tier, then the lower node id — deterministic, no randomness used.
/// * `nil` only when there is no candidate. Deterministic for a given generator state.
public struct Balancer<Generator: RandomNumberGenerator> {
    public let localNode: NodeID
    public let localZone: PlexusMembership.Name
    public var generator: Generator

    public init(localNode: NodeID, localZone: PlexusMembership.Name, generator: Generator) {
        self.localNode = localNode
        self.localZone = localZone
        self.generator = generator
    }

    /// The tier `candidate` belongs to, seen from this relay.
    public func tier(of candidate: BalancerCandidate) -> LocalityTier {
        if candidate.node == localNode { return .sameRelay }
        return candidate.zone == localZone ? .sameZone : .elsewhere
    }

    /// Picks among `candidates` (duplicates by node are the caller's responsibility).
    // Inlinable (like the helpers below) so the relay core's Balancer<SeededGenerator> is specialised.
    public mutating func choose(among candidates: [BalancerCandidate]) -> BalancerChoice? {
        guard !candidates.isEmpty else { return nil }
        for tier in LocalityTier.allCases {
            let open = candidates.filter { self.tier(of: $0) == tier && !$0.isSaturated }
            guard !open.isEmpty else { continue }
            return BalancerChoice(node: pickTwo(open).node, tier: tier, allSaturated: false)
        }
        var best = candidates[0]
        for candidate in candidates.dropFirst() where isBetterFallback(candidate, than: best) {
            best = candidate
        }
        return BalancerChoice(node: best.node, tier: tier(of: best), allSaturated: true)
    }

    /// Picks among the directory's servers of a cluster, skipping `excluded` relays (draining,
    /// failed); `inflight` reports this relay's in-flight count toward a node.
    public mutating func choose(among servers: [ClusterServer], excluding excluded: Set<NodeID> = [],
                                inflight: (NodeID) -> Int) -> BalancerChoice? {
        var candidates: [BalancerCandidate] = []
        candidates.reserveCapacity(servers.count)
        for server in servers where !excluded.contains(server.node) {
            candidates.append(BalancerCandidate(node: server.node, zone: server.zone, capacity: server.capacity,
                                                inflight: inflight(server.node)))
        }
        return choose(among: candidates)
    }

    mutating func pickTwo(_ open: [BalancerCandidate]) -> BalancerCandidate {
        guard open.count > 1 else { return open[0] }
        let first = Int.random(in: 0..<open.count, using: &generator)
        var second = Int.random(in: 0..<(open.count - 1), using: &generator)
        if second >= first { second += 1 }
        return open[second].isLessLoaded(than: open[first]) ? open[second] : open[first]
    }

    func isBetterFallback(_ candidate: BalancerCandidate, than best: BalancerCandidate) -> Bool {
        if candidate.isLessLoaded(than: best) { return true }
        if best.isLessLoaded(than: candidate) { return false }
        let (candidateTier, bestTier) = (tier(of: candidate), tier(of: best))
        if candidateTier != bestTier { return candidateTier < bestTier }
        return candidate.node < best.node
    }
}

extension Balancer: Sendable where Generator: Sendable {}
