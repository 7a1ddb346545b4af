import NIOCore
import PlexusCrypto
import PlexusMembership

/// The keys of one protected name as the core uses them. A class, so that the tables of pending
/// requests and tunnels carry one optional pointer per entry (nil for unprotected names).
final class LocalKeys: Sendable {
    let name: ProtectedName
    let keys: ClusterKeySet

    init(name: ProtectedName, keys: ClusterKeySet) {
        self.name = name
        self.keys = keys
    }
}

/// Which clusters and topics are protected, as the relay core sees them on the hot path: the
/// names this relay holds keys for (`ClusterKeyring`), the names other relays claim as protected
/// in the directory although this relay holds no key for them, and strict mode
/// (`--protected-only`). `Docs/cluster-keys.md` is the specification.
///
/// Guarantees:
/// * `isActive` is false when no name is protected anywhere the relay knows of and strict mode is
///   off; the core then takes the unprotected path without a single lookup.
/// * A relay is a routing candidate for a name this relay holds a key for only if its record
///   carries a claim for that name whose proof verifies under one of the name's keys, for that
///   relay's node ID and record version (`admits`).
/// * A name without a key here is refused (`refusal`) when another relay claims it or in strict
///   mode, so it is never served or sent in the clear.
package struct ClusterProtection: Sendable {
    package private(set) var keyring: ClusterKeyring
    package private(set) var protectedOnly: Bool
    private(set) var clusterKeys: [WireName: LocalKeys] = [:]
    private(set) var topicKeys: [WireName: LocalKeys] = [:]
    /// Names other relays claim as protected and this relay holds no key for.
    private(set) var foreignClusters: Set<WireName> = []
    private(set) var foreignTopics: Set<WireName> = []
    private(set) var isActive = false

    package init(keyring: ClusterKeyring = .empty, protectedOnly: Bool = false) {
        self.keyring = keyring
        self.protectedOnly = protectedOnly
        for (name, keys) in keyring.entries {
            let wire = WireName(ByteBuffer(bytes: name.name))
            switch name.kind {
            case .cluster: clusterKeys[wire] = LocalKeys(name: name, keys: keys)
            case .topic: topicKeys[wire] = LocalKeys(name: name, keys: keys)
            }
        }
        updateActive()
    }

    /// Learns which names other relays claim (keys held here take precedence).
    mutating func noteDirectory(_ snapshot: DirectorySnapshot, localNode: NodeID) {
        var clusters: Set<WireName> = []
        var topics: Set<WireName> = []
        for (node, record) in snapshot.records where node != localNode {
            for claim in record.claims {
                let wire = WireName(ByteBuffer(bytes: claim.name.bytes))
                switch claim.kind {
                case .cluster where clusterKeys[wire] == nil: clusters.insert(wire)
                case .topic where topicKeys[wire] == nil: topics.insert(wire)
                default: break
                }
            }
        }
        foreignClusters = clusters
        foreignTopics = topics
        updateActive()
    }

    private mutating func updateActive() {
        isActive = protectedOnly || !clusterKeys.isEmpty || !topicKeys.isEmpty || !foreignClusters.isEmpty
            || !foreignTopics.isEmpty
    }

    // MARK: Refusals at the edge

    /// Why a client of this relay may not use `cluster` (register, request, broadcast, tunnel),
    /// or nil.
    func refusal(cluster: WireName) -> String? {
        guard isActive, clusterKeys[cluster] == nil else { return nil }
        if foreignClusters.contains(cluster) { return Self.notHeldRefusal(kind: "cluster", cluster) }
        if protectedOnly { return Self.strictRefusal(kind: "cluster", cluster) }
        return nil
    }

    /// Why a client of this relay may not publish or subscribe to `topic`, or nil.
    func refusal(topic: WireName) -> String? {
        guard isActive, topicKeys[topic] == nil else { return nil }
        if foreignTopics.contains(topic) { return Self.notHeldRefusal(kind: "topic", topic) }
        if protectedOnly { return Self.strictRefusal(kind: "topic", topic) }
        return nil
    }

    static func notHeldRefusal(kind: String, _ name: WireName) -> String {
        "plexus: refused: \(kind) \"\(name)\" is protected by a key this relay does not hold"
    }

    static func strictRefusal(kind: String, _ name: WireName) -> String {
        "plexus: refused: \(kind) \"\(name)\" has no key on this relay, which serves only protected names (--protected-only)"
    }

    // MARK: Claims

    /// Whether other relays may be routed to for `name` at all (an unprotected name, or one this
    /// relay holds a key for); `keys` is set for the latter, and then `admits` decides per relay.
    func routable(_ name: WireName, kind: ProtectedNameKind) -> (allowed: Bool, keys: LocalKeys?) {
        guard isActive else { return (true, nil) }
        if let keys = kind == .cluster ? clusterKeys[name] : topicKeys[name] { return (true, keys) }
        let foreign = kind == .cluster ? foreignClusters.contains(name) : foreignTopics.contains(name)
        return (!foreign && !protectedOnly, nil)
    }

    /// Whether `record` proves it holds one of `keys` for their name.
    static func admits(_ record: DirectoryRecord, keys: LocalKeys) -> Bool { provenKey(of: record, keys: keys) != nil }

    /// The fingerprint of the key `record` proves it holds for the name of `keys`, if any.
    static func provenKey(of record: DirectoryRecord, keys: LocalKeys) -> ClusterKeyFingerprint? {
        let kind: ProtectedClaim.Kind = keys.name.kind == .cluster ? .cluster : .topic
        for claim in record.claims where claim.kind == kind && claim.name.bytes == keys.name.name {
            let fingerprint = ClusterKeyFingerprint(value: claim.fingerprint)
            guard let key = keys.keys.key(for: fingerprint) else { continue }
            if ClaimProof.verify(claim.proof, key: key, name: keys.name, node: record.node, version: record.version) {
                return fingerprint
            }
        }
        return nil
    }

    // MARK: This relay's own claims

    /// The claims of this relay's record at `version`: one per name it holds a key for, under the
    /// primary key.
    package static func claims(of keyring: ClusterKeyring, node: NodeID, version: UInt64) -> [ProtectedClaim] {
        keyring.fingerprints.prefix(ProtectedClaim.maxPerRecord).compactMap { entry in
            guard let keys = keyring.keys(for: entry.name) else { return nil }
            return ProtectedClaim(kind: entry.name.kind == .cluster ? .cluster : .topic,
                                  name: PlexusMembership.Name(bytes: entry.name.name),
                                  fingerprint: keys.primary.fingerprint.value,
                                  proof: ClaimProof.make(key: keys.primary, name: entry.name, node: node, version: version))
        }
    }
}
