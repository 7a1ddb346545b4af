import NIOCore
import PlexusCrypto
import PlexusMembership
import PlexusPeerWire

/// What the relay core needs to route to other relays (`RelayConfiguration.overlay`). Every
/// property is a `var`; `init` gives the defaults documented on each.
public struct OverlayRouterSettings: Sendable {
    /// This relay's node ID (its own record is never a remote target).
    public var localNode: NodeID
    /// This relay's zone (the balancer's second locality tier).
    public var localZone: PlexusMembership.Name
    /// Capacity of one local member for the balancer: a relay advertises members × this. Default 16.
    public var memberConcurrency: Int
    /// Soft bound on encoded frame bytes queued toward one relay. Above it, the clients whose
    /// broadcasts or events go there stop being read until it drains; above twice it, broadcasts
    /// and events toward that relay are dropped (counted per cluster/topic), and requests are
    /// answered "overloaded". Default 8 MiB.
    public var peerQueueLimitBytes: Int
    /// How long a relay whose link failed is skipped by the balancer and by fan-out. Default 3 s.
    public var quarantine: TimeAmount
    /// Seed of the balancer's random choices. Default: random.
    public var balancerSeed: UInt64

    public init(localNode: NodeID, localZone: PlexusMembership.Name) {
        self.localNode = localNode
        self.localZone = localZone
        memberConcurrency = 16
        peerQueueLimitBytes = 8 * 1024 * 1024
        quarantine = .seconds(3)
        balancerSeed = UInt64.random(in: .min ... .max)
    }

    /// The settings of a relay that is not part of an overlay: node 0 in the empty zone. Its
    /// router never learns a directory, so it never routes anywhere but to local members.
    public static var standalone: OverlayRouterSettings {
        var settings = OverlayRouterSettings(localNode: NodeID(high: 0, low: 0), localZone: "")
        settings.balancerSeed = 0
        return settings
    }
}

/// One other relay's entry for a cluster, from the directory.
struct RemoteServer: Sendable, Equatable {
    var node: NodeID
    var zone: PlexusMembership.Name
    var capacity: UInt32
}

/// The directory as the core looks it up on the hot path: keyed by the relay's own `WireName`
/// (so a slice of a read buffer can be looked up without copying), this relay excluded, relays
/// in ascending node order.
struct RemoteDirectory: Sendable {
    var clusters: [WireName: [RemoteServer]] = [:]
    var topics: [WireName: [NodeID]] = [:]
    var nodes: Set<NodeID> = []
    /// Cluster and topic entries left out because the name is protected and the relay did not
    /// prove it holds the key (or the name is protected by a key this relay does not hold).
    var unprovenEntries = 0
    /// Relays whose claims verified, per protected name served or wanted there: "<node> <kind>
    /// <name> <fingerprint>", sorted (status, and the tests that wait for a rotation step).
    var provenEntries: [String] = []

    init() {}

    /// With active `protection`, a relay is listed for a protected name only if its claim proves
    /// it holds one of this relay's keys for the name (`ClusterProtection.admits`).
    init(_ snapshot: DirectorySnapshot, localNode: NodeID, protection: ClusterProtection = ClusterProtection()) {
        for (node, record) in snapshot.records.sorted(by: { $0.key < $1.key }) where node != localNode {
            nodes.insert(node)
            for entry in record.clusters {
                let name = WireName(ByteBuffer(bytes: entry.cluster.bytes))
                guard !protection.isActive || admits(record, name, .cluster, protection) else {
                    unprovenEntries += 1
                    continue
                }
                clusters[name, default: []].append(RemoteServer(node: node, zone: record.zone, capacity: entry.capacity))
            }
            for topic in record.topics {
                let name = WireName(ByteBuffer(bytes: topic.bytes))
                guard !protection.isActive || admits(record, name, .topic, protection) else {
                    unprovenEntries += 1
                    continue
                }
                topics[name, default: []].append(node)
            }
        }
        provenEntries.sort()
    }

    private mutating func admits(_ record: DirectoryRecord, _ name: WireName, _ kind: ProtectedNameKind,
                                 _ protection: ClusterProtection) -> Bool {
        let (allowed, keys) = protection.routable(name, kind: kind)
        guard allowed else { return false }
        guard let keys else { return true }
        guard let fingerprint = ClusterProtection.provenKey(of: record, keys: keys) else { return false }
        provenEntries.append("\(record.node) \(keys.name) \(fingerprint)")
        return true
    }
}

/// Frames queued toward one relay and the clients paused because of it.
struct PeerQueue: Sendable {
    package var queuedBytes = 0
    var pausedClients: [ConnectionID] = []
}

/// A client request forwarded to another relay.
struct ClientRequest: Sendable {
    var connection: ConnectionID
    var requestID: UInt64
    /// When the request reached this relay (for the latency of its answer).
    var arrivedAt: NIODeadline
    /// Set when the request went out sealed: its reply or fault must open under these keys.
    var sealing: LocalKeys? = nil
    /// Set when the request came from another overlay (`RelayCore.federationRequest`): the
    /// answer goes to the federation under this ticket, not to `connection`.
    var federationTicket: UInt64? = nil
}

/// Cross-relay routing as a state machine of its own, owned by `RelayCore`: the directory as
/// the hot path reads it, the queues toward every relay, quarantine and draining, the requests
/// forwarded elsewhere, the balancer, and the tunnels with an end on another relay.
///
/// Guarantees: every decision depends only on its own state and the time passed in (no clock,
/// no sockets); a relay without an overlay has a router with an empty directory, which never
/// picks another relay. The core turns what it returns into effects.
struct OverlayRouter {
    let settings: OverlayRouterSettings
    var directory = RemoteDirectory()
    var queues: [NodeID: PeerQueue] = [:]
    /// Relays whose link failed, skipped until the deadline.
    var quarantinedUntil: [NodeID: NIODeadline] = [:]
    /// Relays that announced they are draining: no new requests or tunnels go there.
    var draining: Set<NodeID> = []
    var forwarded = RemoteRequests<ClientRequest>()
    var balancer: Balancer<SeededGenerator>
    /// This relay announced draining.
    var isDraining = false
    /// Tunnels with one end on another relay.
    var remoteTunnels = RemoteTunnelState()
    /// Gateway relays of this overlay and the names they route to other overlays (`Docs/federation.md`).
    var gateways = GatewayDirectory()
    /// Requests handed to the federation gateway next to this relay.
    var federation = FederationTable()

    init(settings: OverlayRouterSettings) {
        self.settings = settings
        balancer = Balancer(localNode: settings.localNode, localZone: settings.localZone,
                            generator: SeededGenerator(seed: settings.balancerSeed))
    }

    // MARK: Decisions

    /// Whether new work may be sent to `node` now.
    func accepts(_ node: NodeID, now: NIODeadline) -> Bool {
        if draining.contains(node) { return false }
        if let until = quarantinedUntil[node], until > now { return false }
        return true
    }

    /// Whether fan-out (broadcasts, events) may be sent to `node` now.
    func reachable(_ node: NodeID, now: NIODeadline) -> Bool {
        if let until = quarantinedUntil[node], until > now { return false }
        return true
    }

    /// Where a request or tunnel for a cluster served by `servers` goes, given the local members'
    /// count and in-flight requests: a local member while they have capacity, else the balancer's
    /// pick among the local relay and the relays that accept work now (locality tiers, the less
    /// loaded of two random candidates, overflow to the next tier).
    mutating func choose(among servers: [RemoteServer], localMembers: Int, localInflight: Int,
                         now: NIODeadline) -> RouteChoice {
        let localCapacity = localMembers * settings.memberConcurrency
        if localMembers > 0, localInflight < localCapacity { return .local }
        var candidates: [BalancerCandidate] = []
        candidates.reserveCapacity(servers.count + 1)
        if localMembers > 0 {
            candidates.append(BalancerCandidate(node: settings.localNode, zone: settings.localZone,
                                                capacity: UInt32(clamping: localCapacity), inflight: localInflight))
        }
        for server in servers where accepts(server.node, now: now) {
            candidates.append(BalancerCandidate(node: server.node, zone: server.zone, capacity: server.capacity,
                                                inflight: forwarded.inflight(to: server.node)))
        }
        guard let choice = balancer.choose(among: candidates) else { return .none }
        return choice.node == settings.localNode ? .local : .remote(choice.node)
    }

    // MARK: Queues toward other relays

    func queuedBytes(to node: NodeID) -> Int { queues[node]?.queuedBytes ?? 0 }

    /// Whether `bytes` more may be queued toward `node` for work that can be refused (requests,
    /// tunnel constructions): up to twice the soft bound.
    func hasRoom(toward node: NodeID, bytes: Int) -> Bool {
        let queued = queuedBytes(to: node)
        return queued == 0 || queued + bytes <= 2 * settings.peerQueueLimitBytes
    }

    /// Counts `bytes` handed to the link toward `node`.
    mutating func enqueued(_ bytes: Int, toward node: NodeID) {
        queues[node, default: PeerQueue()].queuedBytes += bytes
    }

    /// Records that `client` stopped being read because of `node`'s queue; false if it already was.
    mutating func pause(_ client: ConnectionID, for node: NodeID) -> Bool {
        guard let index = queues.index(forKey: node), !queues.values[index].pausedClients.contains(client) else {
            return false
        }
        queues.values[index].pausedClients.append(client)
        return true
    }

    /// The link toward `node` took `bytes`; returns the clients to read again (once the queue
    /// is down to half the soft bound).
    mutating func written(_ bytes: Int, toward node: NodeID) -> [ConnectionID] {
        guard let index = queues.index(forKey: node) else { return [] }
        queues.values[index].queuedBytes = max(0, queues.values[index].queuedBytes - bytes)
        let queue = queues.values[index]
        guard !queue.pausedClients.isEmpty, queue.queuedBytes <= settings.peerQueueLimitBytes / 2 else { return [] }
        queues.values[index].pausedClients.removeAll()
        return queue.pausedClients
    }

    // MARK: Membership and failures

    /// The last directory snapshot (to rebuild the view when the cluster keys change).
    var snapshot = DirectorySnapshot.empty

    /// A new directory snapshot: rebuild the hot-path view; forget draining marks of relays gone.
    mutating func directoryChanged(_ snapshot: DirectorySnapshot, protection: ClusterProtection = ClusterProtection()) {
        self.snapshot = snapshot
        let directory = RemoteDirectory(snapshot, localNode: settings.localNode, protection: protection)
        draining = draining.filter { directory.nodes.contains($0) }
        self.directory = directory
        gateways = GatewayDirectory(snapshot)
    }

    /// `node` failed or left: returns the requests forwarded there (to be answered now) and the
    /// clients paused because of its queue (to be read again); the node is quarantined.
    mutating func peerFailed(_ node: NodeID, now: NIODeadline) -> (requests: [ClientRequest], resumed: [ConnectionID]) {
        let requests = forwarded.peerFailed(node).map(\.context)
        let resumed = queues.removeValue(forKey: node)?.pausedClients ?? []
        draining.remove(node)
        quarantinedUntil[node] = now + settings.quarantine
        quarantinedUntil = quarantinedUntil.filter { $0.value > now }
        return (requests, resumed)
    }

    /// Marks this relay as draining; false if it already was.
    mutating func startDraining() -> Bool {
        guard !isDraining else { return false }
        isDraining = true
        return true
    }

    /// Requests forwarded elsewhere plus cross-relay tunnels (open or being built).
    var pendingWork: Int {
        forwarded.count + remoteTunnels.bridged.count + remoteTunnels.pending.count
    }
}
