/// What this overlay serves and wants, as announced to other overlays' gateways.
///
/// Guarantees: `version` grows by exactly one per change set that changes something; `update`
/// returns the delta from the previous state (nil when nothing changed), and `full` the complete
/// state at the current version, so a receiver that applies the full announcement and then every
/// delta in order holds exactly `clusters` and `topics`.
public struct InterestAnnouncer: Sendable {
    public private(set) var version: UInt64 = 0
    public private(set) var clusters: Set<String> = []
    public private(set) var topics: Set<String> = []

    public init() {}

    /// Replaces the announced interest; returns the delta announcement, or nil if unchanged.
    public mutating func update(clusters newClusters: Set<String>, topics newTopics: Set<String>) -> GatewayInterest? {
        var changes: [GatewayInterest.Change] = []
        changes += newClusters.subtracting(clusters).sorted().map { .addCluster($0) }
        changes += clusters.subtracting(newClusters).sorted().map { .removeCluster($0) }
        changes += newTopics.subtracting(topics).sorted().map { .addTopic($0) }
        changes += topics.subtracting(newTopics).sorted().map { .removeTopic($0) }
        guard !changes.isEmpty else { return nil }
        clusters = newClusters
        topics = newTopics
        version += 1
        return GatewayInterest(version: version, kind: .delta, changes: changes)
    }

    /// The complete interest at the current version (sent first on every new link).
    public var full: GatewayInterest {
        GatewayInterest(version: version, kind: .full,
                        changes: clusters.sorted().map { .addCluster($0) } + topics.sorted().map { .addTopic($0) })
    }
}

/// What one remote gateway announced for its overlay.
///
/// Guarantees: a full announcement replaces everything; a delta applies only to the version just
/// before it (anything else is `.outOfOrder` and changes nothing, and the link is then closed, as
/// the session is ordered and authenticated: only a faulty gateway sends it).
public struct RemoteInterest: Sendable, Equatable {
    public private(set) var version: UInt64 = 0
    public private(set) var clusters: Set<String> = []
    public private(set) var topics: Set<String> = []
    /// Whether a full announcement has arrived (deltas before it are out of order).
    public private(set) var isKnown = false

    public init() {}

    public enum Outcome: Sendable, Equatable {
        /// Applied; whether anything changed.
        case applied(changed: Bool)
        /// A delta that does not follow the version held.
        case outOfOrder(expected: UInt64, got: UInt64)
    }

    public mutating func apply(_ interest: GatewayInterest) -> Outcome {
        switch interest.kind {
        case .full:
            var newClusters: Set<String> = []
            var newTopics: Set<String> = []
            for change in interest.changes {
                if case .addCluster(let name) = change { newClusters.insert(name) }
                if case .addTopic(let name) = change { newTopics.insert(name) }
            }
            let changed = newClusters != clusters || newTopics != topics
            clusters = newClusters
            topics = newTopics
            version = interest.version
            isKnown = true
            return .applied(changed: changed)
        case .delta:
            guard isKnown, interest.version == version &+ 1 else {
                return .outOfOrder(expected: version &+ 1, got: interest.version)
            }
            let before = (clusters, topics)
            for change in interest.changes {
                switch change {
                case .addCluster(let name): clusters.insert(name)
                case .addTopic(let name): topics.insert(name)
                case .removeCluster(let name): clusters.remove(name)
                case .removeTopic(let name): topics.remove(name)
                }
            }
            version = interest.version
            return .applied(changed: before.0 != clusters || before.1 != topics)
        }
    }
}
