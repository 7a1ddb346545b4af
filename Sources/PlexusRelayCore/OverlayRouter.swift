import NIOCore
import PlexusMembership
import PlexusPeerWire

/// A relay's ID in the overlay (16 bytes as two integers).
public typealias PeerID = PlexusMembership.NodeID

/// What the relay core needs to route to other relays (`RelayConfiguration.overlay`). Every
/// property is a `var`; `init` gives the defaults documented on each.
public struct OverlayRouterSettings: Sendable {
    /// This relay's node ID (its own record is never a remote target).
    public var localNode: PeerID
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

    public init(localNode: PeerID, localZone: PlexusMembership.Name) {
        self.localNode = localNode
        self.localZone = localZone
        memberConcurrency = 16
        peerQueueLimitBytes = 8 * 1024 * 1024
        quarantine = .seconds(3)
        balancerSeed = UInt64.random(in: .min ... .max)
    }
}

/// One other relay's entry for a cluster, from the directory.
struct RemoteServer: Sendable, Equatable {
    var node: PeerID
    var zone: PlexusMembership.Name
    var capacity: UInt32
}

/// The directory as the core looks it up on the hot path: keyed by the relay's own `WireName`
/// (so a slice of a read buffer can be looked up without copying), this relay excluded, relays
/// in ascending node order.
struct RemoteDirectory: Sendable {
    var clusters: [WireName: [RemoteServer]] = [:]
    var topics: [WireName: [PeerID]] = [:]
    var nodes: Set<PeerID> = []

    init() {}

    init(_ snapshot: DirectorySnapshot, localNode: PeerID) {
        for node in snapshot.records.keys.sorted() where node != localNode {
            let record = snapshot.records[node]!
            nodes.insert(node)
            for entry in record.clusters {
                clusters[WireName(ByteBuffer(bytes: entry.cluster.bytes)), default: []]
                    .append(RemoteServer(node: node, zone: record.zone, capacity: entry.capacity))
            }
            for topic in record.topics {
                topics[WireName(ByteBuffer(bytes: topic.bytes)), default: []].append(node)
            }
        }
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
}

/// The core's overlay state: present only when the relay runs in an overlay.
struct PeerRoutingState {
    let settings: OverlayRouterSettings
    var directory = RemoteDirectory()
    var queues: [PeerID: PeerQueue] = [:]
    /// Relays whose link failed, skipped until the deadline.
    var quarantinedUntil: [PeerID: NIODeadline] = [:]
    /// Relays that announced they are draining: no new requests or tunnels go there.
    var draining: Set<PeerID> = []
    var forwarded = RemoteRequests<ClientRequest>()
    var balancer: Balancer<SeededGenerator>
    /// This relay announced draining.
    var isDraining = false
    /// Tunnels with one end on another relay.
    var remoteTunnels = RemoteTunnelState()

    init(settings: OverlayRouterSettings) {
        self.settings = settings
        balancer = Balancer(localNode: settings.localNode, localZone: settings.localZone,
                            generator: SeededGenerator(seed: settings.balancerSeed))
    }

    /// Whether new work may be sent to `node` now.
    func accepts(_ node: PeerID, now: NIODeadline) -> Bool {
        if draining.contains(node) { return false }
        if let until = quarantinedUntil[node], until > now { return false }
        return true
    }

    /// Whether fan-out (broadcasts, events) may be sent to `node` now.
    func reachable(_ node: PeerID, now: NIODeadline) -> Bool {
        if let until = quarantinedUntil[node], until > now { return false }
        return true
    }

    package func queuedBytes(to node: PeerID) -> Int { queues[node]?.queuedBytes ?? 0 }
}
