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
    /// Suite-2 (AES-256-GCM) sealing state of this relay: its sender epoch and counter, and the
    /// keys of the epochs it opened (`Docs/cluster-keys.md`, "Two suites").
    var fast: FastSealState
    /// Other relays whose suite claim verified under a key this relay holds: they open suite 2.
    private(set) var fastSealRelays: Set<NodeID> = []

    /// `fastSeal`: whether this relay seals and opens suite 2 where the CPU has AES-NI (its claims
    /// must say the same: `claims(of:node:version:suites:)`).
    package init(keyring: ClusterKeyring = .empty, protectedOnly: Bool = false, fastSeal: Bool = true) {
        self.keyring = keyring
        self.protectedOnly = protectedOnly
        fast = FastSealState(enabled: fastSeal)
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
        var fastRelays: Set<NodeID> = []
        for (node, record) in snapshot.records where node != localNode {
            for claim in record.claims {
                let wire = WireName(ByteBuffer(bytes: claim.name.bytes))
                guard let held = claim.kind == .cluster ? clusterKeys[wire] : topicKeys[wire] else {
                    if claim.kind == .cluster { clusters.insert(wire) } else { topics.insert(wire) }
                    continue
                }
                if fast.isEnabled, !fastRelays.contains(node),
                   let key = held.keys.key(for: ClusterKeyFingerprint(value: claim.fingerprint)),
                   ClaimProof.verify(claim.proof, key: key, name: held.name, node: node, version: record.version,
                                     suites: ClaimProof.fastSuites) {
                    fastRelays.insert(node)
                }
            }
        }
        foreignClusters = clusters
        foreignTopics = topics
        fastSealRelays = fastRelays
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

    /// A client's broadcast (`.cluster`) or publish (`.topic`) with one hashed lookup for a keyed
    /// name: the refusal (then no keys), or the name's keys when this relay holds them (nil for an
    /// unprotected name). The same answers as `refusal` followed by `routable`.
    func fanOutCheck(_ name: WireName, kind: ProtectedNameKind) -> (refusal: String?, keys: LocalKeys?) {
        guard isActive else { return (nil, nil) }
        if let keys = kind == .cluster ? clusterKeys[name] : topicKeys[name] { return (nil, keys) }
        return (kind == .cluster ? refusal(cluster: name) : refusal(topic: name), nil)
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

    /// Whether a payload sealed toward `node` may use suite 2: this relay seals it and `node`
    /// proved it opens it.
    func sealsFast(toward node: NodeID) -> Bool { fast.isEnabled && fastSealRelays.contains(node) }

    /// Whether a payload sealed toward every relay of `nodes` may use suite 2 (a fan-out frame is
    /// sealed once for all of them).
    func sealsFast(toward nodes: some Sequence<NodeID>) -> Bool {
        guard fast.isEnabled else { return false }
        return nodes.allSatisfy { fastSealRelays.contains($0) }
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

    /// The suites this relay advertises by default: 1 and 2 where the CPU has AES-NI, else none
    /// beyond suite 1 (no suite claims).
    package static var defaultSuites: UInt8? { AESGCM.isAvailable ? ClaimProof.fastSuites : nil }

    /// The claims of this relay's record at `version`: one per name it holds a key for, under the
    /// primary key; then, with `suites`, one suite claim per name (as many as the record has room
    /// for), which tells key holders that this relay opens those seal suites.
    package static func claims(of keyring: ClusterKeyring, node: NodeID, version: UInt64,
                               suites: UInt8? = defaultSuites) -> [ProtectedClaim] {
        let held = keyring.fingerprints.prefix(ProtectedClaim.maxPerRecord).compactMap { entry in
            keyring.keys(for: entry.name).map { (entry.name, $0.primary) }
        }
        func claim(_ name: ProtectedName, _ key: ClusterKey, suites: UInt8?) -> ProtectedClaim {
            ProtectedClaim(kind: name.kind == .cluster ? .cluster : .topic, name: PlexusMembership.Name(bytes: name.name),
                           fingerprint: key.fingerprint.value,
                           proof: ClaimProof.make(key: key, name: name, node: node, version: version, suites: suites))
        }
        var claims = held.map { claim($0.0, $0.1, suites: nil) }
        if let suites {
            claims += held.prefix(ProtectedClaim.maxPerRecord - claims.count).map { claim($0.0, $0.1, suites: suites) }
        }
        return claims
    }
}
