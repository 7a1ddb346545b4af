import PlexusMembership

/// The relays a broadcast or an event must be sent to.
///
/// Guarantees: every relay appears at most once (even if the directory lists it twice), this
/// relay never appears (local delivery is the relay core's job), relays in `excluded` (failed,
/// leaving) never appear, and the order is ascending node id — deterministic for a given input.
public enum FanOut {
    /// Relays other than `localNode` that have members of `cluster`: one BROADCAST frame each.
    public static func relays(forBroadcastTo cluster: PlexusMembership.Name, in directory: DirectorySnapshot,
                              localNode: NodeID, excluding excluded: Set<NodeID> = []) -> [NodeID] {
        targets(directory.relays(servingCluster: cluster).map(\.node), localNode: localNode, excluding: excluded)
    }

    /// Relays other than `localNode` that have subscribers of `topic`: one PUBLISH frame each.
    public static func relays(forPublishTo topic: PlexusMembership.Name, in directory: DirectorySnapshot,
                              localNode: NodeID, excluding excluded: Set<NodeID> = []) -> [NodeID] {
        targets(directory.relays(wantingTopic: topic), localNode: localNode, excluding: excluded)
    }

    /// The rule itself, for any list of candidate relays.
    public static func targets(_ nodes: some Sequence<NodeID>, localNode: NodeID,
                               excluding excluded: Set<NodeID> = []) -> [NodeID] {
        var seen = Set<NodeID>()
        var result: [NodeID] = []
        for node in nodes where node != localNode && !excluded.contains(node) && seen.insert(node).inserted {
            result.append(node)
        }
        return result.sorted()
    }
}
