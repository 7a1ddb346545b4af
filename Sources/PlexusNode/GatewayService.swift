import Logging
import NIOConcurrencyHelpers
import NIOCore
import PlexusFederation
import PlexusGateway
import PlexusMembership
import PlexusPeerWire
import PlexusRelay
import PlexusRelayCore

/// A relay that is also a gateway to other overlays (`Docs/federation.md`): the `GatewayEndpoint`
/// wired to the relay core (`RelayServer`'s federation API) and to the directory.
///
/// Guarantees:
/// * This overlay's interest — the clusters with members and topics with subscribers of every
///   relay's record, never the gateway routes — is what other overlays learn: re-read from the
///   directory on every change of it (and every `interestInterval` as a safety net); only changes
///   are sent, as deltas.
/// * What other overlays announce becomes this relay's `GatewayRoute`s (at most
///   `GatewayRoute.maxPerRecord`; the rest is logged and left out), withdrawn when their last link
///   goes.
/// * Traffic from another overlay enters this overlay through the relay core's federation entry
///   points, which never hand it to a gateway again.
public final class GatewayService: Sendable {
    public let endpoint: GatewayEndpoint
    public let node: RelayNode
    private let poller: NIOLockedValueBox<RepeatedTask?>
    private let listener: UInt64

    private init(endpoint: GatewayEndpoint, node: RelayNode, poller: NIOLockedValueBox<RepeatedTask?>, listener: UInt64) {
        self.endpoint = endpoint
        self.node = node
        self.poller = poller
        self.listener = listener
    }

    /// Starts the gateway next to `node` (`configuration.identity` should be the node's identity).
    public static func start(node: RelayNode, configuration: GatewayConfiguration, on loop: EventLoop,
                             interestInterval: TimeAmount = .seconds(1)) async throws -> GatewayService {
        let relay = node.relay
        let overlay = node.overlay
        let logger = configuration.logger
        let hooks = GatewayHooks(
            requestAnswered: { ticket, outcome in relay.federationAnswered(ticket: ticket, outcome: outcome) },
            deliverRequest: { ticket, cluster, payload, left in
                relay.federationRequest(ticket: ticket, cluster: cluster, payload: payload, millisecondsLeft: left)
            },
            deliverBroadcast: { cluster, message in relay.federationBroadcast(cluster: cluster, message: message) },
            deliverEvent: { topic, event in relay.federationPublish(topic: topic, event: event) },
            remoteInterestChanged: { interest in
                overlay.updateOwnRecord([.setGatewayRoutes(Self.routes(for: interest, logger: logger))])
            },
            openTunnel: { id, cluster, left in relay.federationOpenTunnel(tunnelID: id, cluster: cluster, millisecondsLeft: left) },
            tunnelToRelay: { node, frame in relay.federationTunnelFrame(frame, relay: node) },
            drained: { overlayName, bytes in relay.federationDrained(overlay: overlayName.value, bytes: bytes) })
        let endpoint = try await GatewayEndpoint.start(configuration: configuration, hooks: hooks, on: loop)
        relay.setFederationOutlet { effect in
            switch effect {
            case let .request(ticket, cluster, payload, left):
                endpoint.request(ticket: ticket, cluster: String(buffer: cluster), payload: payload, millisecondsLeft: left)
            case let .broadcast(overlayName, cluster, message):
                guard let name = OverlayName(String(buffer: overlayName)) else { return }
                endpoint.broadcast(overlay: name, cluster: String(buffer: cluster), message: message)
            case let .publish(overlayName, topic, event, publisher):
                guard let name = OverlayName(String(buffer: overlayName)) else { return }
                endpoint.publish(overlay: name, topic: String(buffer: topic), event: event, publisher: publisher)
            case let .answer(ticket, outcome):
                endpoint.answer(ticket: ticket, outcome: outcome)
            case let .tunnelFrame(frame, relay):
                endpoint.tunnelFromRelay(frame, relay: relay)
            case .relayFailed(let node):
                endpoint.relayFailed(node)
            }
        }
        let listener = node.directoryListeners.add { snapshot in
            let interest = localInterest(of: snapshot)
            endpoint.localInterestChanged(clusters: interest.clusters, topics: interest.topics)
        }
        let poller = NIOLockedValueBox<RepeatedTask?>(nil)
        let task = loop.scheduleRepeatedTask(initialDelay: .zero, delay: interestInterval) { _ in
            let interest = localInterest(of: overlay.directorySnapshot)
            endpoint.localInterestChanged(clusters: interest.clusters, topics: interest.topics)
        }
        poller.withLockedValue { $0 = task }
        return GatewayService(endpoint: endpoint, node: node, poller: poller, listener: listener)
    }

    /// Every relay's clusters (with capacity) and topics in `snapshot`; gateway routes excluded,
    /// so an overlay never re-announces what it learned from another (no loops).
    static func localInterest(of snapshot: DirectorySnapshot) -> (clusters: Set<String>, topics: Set<String>) {
        var clusters: Set<String> = []
        var topics: Set<String> = []
        for record in snapshot.records.values {
            for entry in record.clusters where entry.capacity > 0 { clusters.insert(String(decoding: entry.cluster.bytes, as: UTF8.self)) }
            for topic in record.topics { topics.insert(String(decoding: topic.bytes, as: UTF8.self)) }
        }
        return (clusters, topics)
    }

    /// The directory routes for what other overlays announced, capped at `GatewayRoute.maxPerRecord`.
    static func routes(for interest: [OverlayName: (clusters: Set<String>, topics: Set<String>)], logger: Logger) -> [GatewayRoute] {
        var routes: [GatewayRoute] = []
        for (overlay, names) in interest {
            let overlayName = PlexusMembership.Name(overlay.value)
            for cluster in names.clusters where cluster.utf8.count <= 255 {
                routes.append(GatewayRoute(kind: .cluster, overlay: overlayName, name: PlexusMembership.Name(cluster)))
            }
            for topic in names.topics where topic.utf8.count <= 255 {
                routes.append(GatewayRoute(kind: .topic, overlay: overlayName, name: PlexusMembership.Name(topic)))
            }
        }
        routes.sort()
        if routes.count > GatewayRoute.maxPerRecord {
            logger.warning("other overlays announce \(routes.count) names; only \(GatewayRoute.maxPerRecord) fit in the directory record")
            routes.removeLast(routes.count - GatewayRoute.maxPerRecord)
        }
        return routes
    }

    /// Stops the gateway (links close; other overlays withdraw this overlay's interest), then
    /// withdraws its routes from the directory. The relay keeps running.
    public func shutdown() async {
        poller.withLockedValue { $0?.cancel() }
        node.directoryListeners.remove(listener)
        node.relay.setFederationOutlet(nil)
        await endpoint.shutdown()
        node.overlay.updateOwnRecord([.setGatewayRoutes([])])
    }
}
