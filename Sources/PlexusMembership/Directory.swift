/// A relay that serves a cluster, as returned by `DirectorySnapshot.relays(servingCluster:)`.
public struct ClusterServer: Sendable, Equatable {
    public let node: NodeID
    public let capacity: UInt32
    public let zone: Name
}

/// An immutable view of the directory for hot-path lookups.
///
/// Guarantees: never changes after construction (a final class of immutable dictionaries, safe to
/// share across threads; the NIO side swaps whole snapshots atomically); contains records only of
/// members that were alive or suspect when it was built; results are sorted by node ID.
public final class DirectorySnapshot: Sendable {
    public let records: [NodeID: DirectoryRecord]
    private let clusterIndex: [Name: [ClusterServer]]
    private let topicIndex: [Name: [NodeID]]

    public init(records: [NodeID: DirectoryRecord]) {
        self.records = records
        var clusterIndex: [Name: [ClusterServer]] = [:]
        var topicIndex: [Name: [NodeID]] = [:]
        for record in records.values.sorted(by: { $0.node < $1.node }) {
            for cluster in record.clusters {
                clusterIndex[cluster.cluster, default: []].append(
                    ClusterServer(node: record.node, capacity: cluster.capacity, zone: record.zone))
            }
            for topic in record.topics { topicIndex[topic, default: []].append(record.node) }
        }
        self.clusterIndex = clusterIndex
        self.topicIndex = topicIndex
    }

    public static let empty = DirectorySnapshot(records: [:])

    /// Relays that have members of `cluster`, with their advertised capacity.
    public func relays(servingCluster cluster: Name) -> [ClusterServer] { clusterIndex[cluster] ?? [] }

    /// Relays that have subscribers for `topic`.
    public func relays(wantingTopic topic: Name) -> [NodeID] { topicIndex[topic] ?? [] }

    /// The record of `node`, if it is in the snapshot.
    public func record(of node: NodeID) -> DirectoryRecord? { records[node] }
}

/// The mutable directory inside `Membership`: one record per relay, highest version wins.
///
/// Guarantees: `apply` accepts a record only if its version is higher than the stored one;
/// the snapshot is rebuilt lazily, only after a change.
struct Directory: Sendable {
    private(set) var records: [NodeID: DirectoryRecord] = [:]
    private var cachedSnapshot: DirectorySnapshot? = nil

    /// Stores `record` if newer; returns true if it changed the directory.
    mutating func apply(_ record: DirectoryRecord) -> Bool {
        if let existing = records[record.node], existing.version >= record.version { return false }
        records[record.node] = record
        cachedSnapshot = nil
        return true
    }

    /// Removes the record of `node`; returns true if there was one.
    mutating func remove(_ node: NodeID) -> Bool {
        guard records.removeValue(forKey: node) != nil else { return false }
        cachedSnapshot = nil
        return true
    }

    func version(of node: NodeID) -> UInt64? { records[node]?.version }

    /// A snapshot of the records whose owner passes `isReachable`.
    mutating func snapshot(isReachable: (NodeID) -> Bool) -> DirectorySnapshot {
        if let cachedSnapshot { return cachedSnapshot }
        let snapshot = DirectorySnapshot(records: records.filter { isReachable($0.key) })
        cachedSnapshot = snapshot
        return snapshot
    }

    /// Forces the next snapshot to be rebuilt (membership changed).
    mutating func invalidate() { cachedSnapshot = nil }
}
