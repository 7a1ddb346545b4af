/// A cluster served by a relay, with the capacity it advertises for it.
public struct ClusterCapacity: Sendable, Equatable, Hashable {
    public var cluster: Name
    public var capacity: UInt32

    public init(cluster: Name, capacity: UInt32) {
        self.cluster = cluster
        self.capacity = capacity
    }
}

/// A small load figure a relay advertises for balancing.
public struct LoadSummary: Sendable, Equatable, Hashable {
    /// Requests currently in flight through the relay.
    public var inFlightRequests: UInt32
    /// Busy fraction in thousandths (0 … 1000).
    public var utilizationPermille: UInt16

    public init(inFlightRequests: UInt32 = 0, utilizationPermille: UInt16 = 0) {
        self.inFlightRequests = inFlightRequests
        self.utilizationPermille = utilizationPermille
    }
}

/// The one versioned record a relay owns in the directory.
///
/// Guarantees: only the owning relay produces records with its `node`; a record with a higher
/// `version` replaces a lower one everywhere. Lists are kept sorted and duplicate-free by the
/// owner's API, which makes encodings deterministic.
public struct DirectoryRecord: Sendable, Equatable, Hashable {
    public var node: NodeID
    public var version: UInt64
    public var addresses: [NodeAddress]
    public var zone: Name
    public var clusters: [ClusterCapacity]
    public var topics: [Name]
    public var load: LoadSummary
    /// Names this relay holds a key for, each with the key's fingerprint and a proof bound to
    /// `node` and `version` (`ProtectedClaim`); empty for a relay without cluster keys.
    public var claims: [ProtectedClaim]
    /// Only on a gateway relay: what other overlays serve and want through it (`GatewayRoute`),
    /// sorted; empty otherwise.
    public var gatewayRoutes: [GatewayRoute] = []

    public init(node: NodeID, version: UInt64, addresses: [NodeAddress], zone: Name,
                clusters: [ClusterCapacity] = [], topics: [Name] = [], load: LoadSummary = LoadSummary(),
                claims: [ProtectedClaim] = []) {
        self.claims = claims
        self.node = node
        self.version = version
        self.addresses = addresses
        self.zone = zone
        self.clusters = clusters
        self.topics = topics
        self.load = load
    }
}

/// A change the local relay core makes to its own record.
public enum OwnRecordChange: Sendable, Equatable {
    /// Serve `cluster` with `capacity` (replaces the capacity if already registered).
    case registerCluster(Name, capacity: UInt32)
    case unregisterCluster(Name)
    case subscribeTopic(Name)
    case unsubscribeTopic(Name)
    case setZone(Name)
    case setAddresses([NodeAddress])
    case setLoad(LoadSummary)
    /// How the record's claims are computed from now on (nil: no claims). Membership keeps the
    /// signer and re-signs at every version (`Membership.updateOwnRecord`).
    case setClaimSigning(ClaimSigning?)
    /// Replace this gateway relay's routes to other overlays (sorted and deduplicated on apply).
    case setGatewayRoutes([GatewayRoute])
}

extension DirectoryRecord {
    /// Applies `change`, keeping lists sorted; returns false if nothing changed.
    mutating func apply(_ change: OwnRecordChange) -> Bool {
        let before = self
        switch change {
        case .registerCluster(let name, let capacity):
            clusters.removeAll { $0.cluster == name }
            clusters.append(ClusterCapacity(cluster: name, capacity: capacity))
            clusters.sort { $0.cluster < $1.cluster }
        case .unregisterCluster(let name):
            clusters.removeAll { $0.cluster == name }
        case .subscribeTopic(let name):
            if !topics.contains(name) { topics.append(name); topics.sort() }
        case .unsubscribeTopic(let name):
            topics.removeAll { $0 == name }
        case .setZone(let zone):
            self.zone = zone
        case .setAddresses(let addresses):
            self.addresses = addresses
        case .setLoad(let load):
            self.load = load
        case .setGatewayRoutes(let routes):
            gatewayRoutes = Array(Set(routes)).sorted()
        case .setClaimSigning:
            break // kept by Membership, which re-signs the claims at every version
        }
        return self != before
    }
}
