import NIOCore
import PlexusVocabulary

/// Where the core sends something. Today every destination is a local client connection; the
/// overlay adds remote relays here (e.g. `case remote(NodeID)`) without changing the core's
/// callers, which already switch over `Destination`.
enum Destination: Hashable, Sendable {
    case local(ConnectionID)
}

/// The routing interface of the relay core: "members of cluster C", "subscribers of topic T",
/// "pick one member of C". The core never looks at connections to decide where a message goes;
/// it asks its router.
protocol Router {
    mutating func addMember(_ connection: ConnectionID, to cluster: WireName)
    mutating func removeMember(_ connection: ConnectionID, from cluster: WireName)
    /// Returns `false` if the connection was already subscribed.
    mutating func subscribe(_ connection: ConnectionID, to topic: WireName) -> Bool
    /// Returns `false` if the connection was not subscribed.
    mutating func unsubscribe(_ connection: ConnectionID, from topic: WireName) -> Bool
    /// Every member of `cluster` (a CoW copy: iterating it does not hold the table).
    func members(of cluster: WireName) -> [Destination]
    /// How many members `cluster` has.
    func memberCount(of cluster: WireName) -> Int
    /// Every subscriber of `topic`.
    func subscribers(of topic: WireName) -> [Destination]
    /// One member for a request or tunnel, or `nil` if the cluster has none.
    mutating func pickMember(of cluster: WireName) -> Destination?
}

/// The single-relay router: local members and subscribers only.
///
/// Member lists are arrays in registration order (removal is linear, which is fine for the
/// rare register/unregister); `pickMember` round-robins over them, which spreads load evenly and
/// keeps tests deterministic (the reference relay picks uniformly at random; the spec allows any
/// choice).
package struct RouteTable: Router {
    private struct Cluster {
        var members: [Destination] = []
        var cursor = 0
    }
    private var clusters: [WireName: Cluster] = [:]
    private var topics: [WireName: [Destination]] = [:]
    /// Clusters whose member count changed and topics whose subscribed state may have changed
    /// since the last `takeInterestChanges()` (the overlay's own directory record follows them).
    private(set) var changedClusters: Set<WireName> = []
    private(set) var changedTopics: Set<WireName> = []

    /// The local interest that changed since the last call: each changed cluster with its
    /// current member count (0 = no longer served), each changed topic with whether anyone
    /// still subscribes. Clears the change sets.
    package mutating func takeInterestChanges() -> [RelayInterestChange] {
        guard !changedClusters.isEmpty || !changedTopics.isEmpty else { return [] }
        var changes: [RelayInterestChange] = []
        for cluster in changedClusters.sorted(by: { $0.description < $1.description }) {
            changes.append(.cluster(Array(cluster.bytes.readableBytesView), members: memberCount(of: cluster)))
        }
        for topic in changedTopics.sorted(by: { $0.description < $1.description }) {
            changes.append(.topic(Array(topic.bytes.readableBytesView), subscribed: topics[topic] != nil))
        }
        changedClusters.removeAll()
        changedTopics.removeAll()
        return changes
    }

    mutating func addMember(_ connection: ConnectionID, to cluster: WireName) {
        clusters[cluster, default: Cluster()].members.append(.local(connection))
        changedClusters.insert(WireName.compact(cluster.bytes))
    }

    mutating func removeMember(_ connection: ConnectionID, from cluster: WireName) {
        guard let index = clusters.index(forKey: cluster) else { return }
        clusters.values[index].members.removeAll { $0 == .local(connection) }
        changedClusters.insert(WireName.compact(cluster.bytes))
        if clusters.values[index].members.isEmpty { clusters.remove(at: index) }
    }

    /// `topic` is stored as the key when the topic is new: pass a compact name.
    mutating func subscribe(_ connection: ConnectionID, to topic: WireName) -> Bool {
        guard let index = topics.index(forKey: topic) else {
            topics[topic] = [.local(connection)]
            changedTopics.insert(topic)
            return true
        }
        if topics.values[index].contains(.local(connection)) { return false }
        topics.values[index].append(.local(connection)) // in place: the key is never re-inserted
        return true
    }

    /// Never stores `topic`: a slice of a read buffer is fine here.
    mutating func unsubscribe(_ connection: ConnectionID, from topic: WireName) -> Bool {
        guard let index = topics.index(forKey: topic) else { return false }
        let before = topics.values[index].count
        topics.values[index].removeAll { $0 == .local(connection) }
        let removed = topics.values[index].count != before
        if topics.values[index].isEmpty {
            topics.remove(at: index)
            changedTopics.insert(WireName.compact(topic.bytes))
        }
        return removed
    }

    func members(of cluster: WireName) -> [Destination] {
        clusters[cluster]?.members ?? []
    }

    func memberCount(of cluster: WireName) -> Int {
        clusters[cluster]?.members.count ?? 0
    }

    func subscribers(of topic: WireName) -> [Destination] {
        topics[topic] ?? []
    }

    mutating func pickMember(of cluster: WireName) -> Destination? {
        guard let index = clusters.index(forKey: cluster) else { return nil }
        let count = clusters.values[index].members.count
        guard count > 0 else { return nil }
        let slot = clusters.values[index].cursor % count
        clusters.values[index].cursor = slot + 1
        return clusters.values[index].members[slot]
    }

    var clusterCount: Int { clusters.count }
    var topicCount: Int { topics.count }
    var topicNames: [WireName] { Array(topics.keys) }
}
