import DequeModule
import NIOCore
import PlexusMembership
import PlexusPeerWire
import PlexusVocabulary

/// A gateway relay of this overlay that routes a name to another overlay (from its record's
/// `GatewayRoute`s; this relay's own routes included).
struct GatewayServer: Sendable, Equatable {
    var node: NodeID
    /// The other overlay's name, as bytes (it travels in `gatewayBroadcast`/`gatewayPublish`).
    var overlay: ByteBuffer
}

/// The gateway routes of the directory as the core looks them up: cluster or topic → the gateway
/// relays (in ascending node order) and the overlay each reaches. Pure.
///
/// Guarantees: built only from records' `gatewayRoutes`; a relay's ordinary clusters and topics
/// never appear here, so local members always come first (`RelayCore+Federation`).
struct GatewayDirectory: Sendable {
    var clusters: [WireName: [GatewayServer]] = [:]
    var topics: [WireName: [GatewayServer]] = [:]

    init() {}

    init(_ snapshot: DirectorySnapshot) {
        for (node, record) in snapshot.records.sorted(by: { $0.key < $1.key }) {
            for route in record.gatewayRoutes {
                let name = WireName(ByteBuffer(bytes: route.name.bytes))
                let server = GatewayServer(node: node, overlay: ByteBuffer(bytes: route.overlay.bytes))
                switch route.kind {
                case .cluster: clusters[name, default: []].append(server)
                case .topic: topics[name, default: []].append(server)
                }
            }
        }
    }

    /// One gateway per overlay among `servers` that `usable` admits: the first in node order.
    static func onePerOverlay(_ servers: [GatewayServer], usable: (NodeID) -> Bool) -> [GatewayServer] {
        var chosen: [ByteBuffer: GatewayServer] = [:]
        for server in servers where chosen[server.overlay] == nil && usable(server.node) {
            chosen[server.overlay] = server
        }
        return chosen.values.sorted { $0.node < $1.node }
    }
}

/// One way out of this overlay: a gateway relay and the other overlay it links to.
struct GatewayPath: Hashable, Sendable {
    var gateway: NodeID
    var overlay: ByteBuffer
}

/// Requests this relay handed to the federation (`FederationEffect.request`), by ticket.
struct FederationTable: Sendable {
    var nextTicket: UInt64 = 1
    var pending: [UInt64: (requester: Requester, arrivedAt: NIODeadline)] = [:]
    /// Back-pressure (`RelayCore+FederationBackPressure`): gateway paths (gateway relay, other
    /// overlay) over their soft bound, the clients paused because of each, the relays that feed
    /// this gateway, and how often a client was paused.
    var congested: Set<GatewayPath> = []
    var paused: [GatewayPath: Set<ConnectionID>] = [:]
    var feeders: Set<NodeID> = []
    /// On a gateway relay: bytes handed to the gateway per other overlay, not yet reported drained.
    var handedOver: [ByteBuffer: Int] = [:]
    /// On a gateway relay: spliced tunnel frames from the gateway waiting for room toward a relay.
    var splicedBacklog: [NodeID: Deque<PeerFrame>] = [:]
    var pauses = 0

    mutating func register(_ requester: Requester, now: NIODeadline) -> UInt64 {
        let ticket = nextTicket
        nextTicket += 1
        pending[ticket] = (requester, now)
        return ticket
    }
}

/// What the relay core asks of the federation gateway running next to it
/// (`RelayConfiguration.federationOutlet`; only gateway relays produce these).
public enum FederationEffect: Sendable, Equatable {
    /// Send a request for `cluster` to another overlay; answer it with
    /// `RelayServer.federationAnswered(ticket:outcome:)` exactly once.
    case request(ticket: UInt64, cluster: ByteBuffer, payload: ByteBuffer, millisecondsLeft: UInt64)
    /// Send this broadcast to the other overlay `overlay`.
    case broadcast(overlay: ByteBuffer, cluster: ByteBuffer, message: ByteBuffer)
    /// Send this event, published on relay `publisher`, to the other overlay `overlay`.
    case publish(overlay: ByteBuffer, topic: ByteBuffer, event: ByteBuffer, publisher: NodeID)
    /// The answer to `RelayServer.federationRequest(ticket:…)`, a request from another overlay.
    case answer(ticket: UInt64, outcome: PeerReplyOutcome)
    /// A relay-to-relay tunnel frame for the gateway (`GatewayEndpoint.tunnelFromRelay`): from
    /// relay `relay`, or from this core when `relay` is `FederatedTunnels.gatewayNode`.
    case tunnelFrame(PeerFrame, relay: NodeID)
    /// This relay lost relay `node`: tunnels spliced to it must close (`GatewayEndpoint.relayFailed`).
    case relayFailed(NodeID)
}
