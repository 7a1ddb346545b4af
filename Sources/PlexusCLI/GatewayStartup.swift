import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PlexusCrypto
import PlexusFederation
import PlexusGateway
import PlexusHTTP
import PlexusMembership
import PlexusNode
import ServiceLifecycle

/// This process's overlay name and gateway (one relay per process), read by the status endpoint.
enum FederationRegistry {
    static let state = NIOLockedValueBox<(overlay: String?, gateway: GatewayService?)>((nil, nil))
}

/// Starts the gateway next to `node` when `--gateway-port` is given.
enum GatewayStartup {
    static func start(_ flags: GatewayOptions, node: RelayNode, identity: StaticIdentity, networkKeyring: Keyring, dev: Bool,
                      peerHost: String?, logger: Logger) async throws -> GatewayService? {
        let overlay = flags.overlay.flatMap(OverlayName.init) ?? OverlayName.derived(fromKeyFingerprint: networkKeyring.primary.fingerprint)
        FederationRegistry.state.withLockedValue { $0.overlay = overlay.value }
        guard let port = flags.gatewayPort else { return nil }
        guard let keyPath = flags.federationKey else { return nil } // validate() requires it
        let keyring = try Keyring.load(primaryPath: keyPath, acceptedPaths: flags.acceptFederationKeys)
        if keyring.acceptedKeys.contains(where: { $0.fingerprint == networkKeyring.primary.fingerprint }) {
            logger.warning("the federation key is this overlay's network key: use a key of its own (plexus keygen)")
        }
        var configuration = GatewayConfiguration(identity: identity, federationKeyring: keyring, overlay: overlay,
                                                 host: flags.gatewayHost ?? peerHost ?? (dev ? "127.0.0.1" : "0.0.0.0"), port: port,
                                                 joins: flags.gatewayJoins.compactMap(GatewayFlags.parseTarget), logger: logger)
        configuration.redialInterval = .seconds(1)
        let service = try await GatewayService.start(node: node, configuration: configuration, on: MultiThreadedEventLoopGroup.singleton.next())
        FederationRegistry.state.withLockedValue { $0.gateway = service }
        logger.info("gateway started", metadata: ["overlay": "\(overlay)", "port": "\(service.endpoint.port)",
                                                  "joins": "\(flags.gatewayJoins)", "federation-key": "\(keyring.primary.fingerprint)"])
        return service
    }
}

/// Stops the gateway at graceful shutdown (before the relay drains: other overlays withdraw
/// this overlay's interest and fail what was pending here at once).
struct GatewayDaemon: Service {
    let gateway: GatewayService

    func run() async throws {
        try? await gracefulShutdown()
        await gateway.shutdown()
    }
}

/// The `federation` key of `GET /v1/status` and its lines in `plexus status`.
struct FederationReport: Codable, Sendable {
    struct RemoteOverlay: Codable, Sendable {
        var overlay: String
        /// Gateway relays of this overlay that route to it (short node ids).
        var gateways: [String]
        var clusters: [String]
        var topics: [String]
    }

    struct Link: Codable, Sendable {
        var overlay: String?
        var gateway: String?
        var state: String
        var queuedBytes: Int
        var pendingRequests: Int
        var servedRequests: Int
        var roundTripMilliseconds: Double?
        var refusedFrames: Int
    }

    var overlay: String?
    var remoteOverlays: [RemoteOverlay]
    /// Only on a gateway.
    var gatewayPort: Int?
    var links: [Link]?
    var unauthenticatedClosed: Int?

    static func current(node: RelayNode) async -> FederationReport {
        let (overlay, gateway) = FederationRegistry.state.withLockedValue { $0 }
        var byOverlay: [String: RemoteOverlay] = [:]
        for (nodeID, record) in node.overlay.directorySnapshot.records {
            for route in record.gatewayRoutes {
                let name = String(decoding: route.overlay.bytes, as: UTF8.self)
                var entry = byOverlay[name] ?? RemoteOverlay(overlay: name, gateways: [], clusters: [], topics: [])
                let id = String(nodeID.description.prefix(8))
                if !entry.gateways.contains(id) { entry.gateways.append(id) }
                let text = String(decoding: route.name.bytes, as: UTF8.self)
                switch route.kind {
                case .cluster: if !entry.clusters.contains(text) { entry.clusters.append(text) }
                case .topic: if !entry.topics.contains(text) { entry.topics.append(text) }
                }
                byOverlay[name] = entry
            }
        }
        var report = FederationReport(overlay: overlay, remoteOverlays: byOverlay.values.sorted { $0.overlay < $1.overlay }.map {
            RemoteOverlay(overlay: $0.overlay, gateways: $0.gateways.sorted(), clusters: $0.clusters.sorted(), topics: $0.topics.sorted())
        })
        if let gateway, let status = try? await gateway.endpoint.status() {
            report.gatewayPort = status.port
            report.unauthenticatedClosed = status.unauthenticatedClosed
            report.links = status.links.map { link in
                Link(overlay: link.overlay?.value, gateway: link.gateway.map { String($0.description.prefix(8)) },
                     state: link.overlay == nil ? "handshaking" : "linked", queuedBytes: link.queuedBytes,
                     pendingRequests: link.pendingRequests, servedRequests: link.servedRequests,
                     roundTripMilliseconds: link.roundTrip.map { Double($0.nanoseconds) / 1_000_000 }, refusedFrames: link.refusedFrames)
            }
        }
        return report
    }

    /// The gateway's `/metrics` figures (nil when this relay is not a gateway).
    static func metrics() async -> FederationMetricsSample? {
        guard let gateway = FederationRegistry.state.withLockedValue({ $0.gateway }),
              let status = try? await gateway.endpoint.status() else { return nil }
        var sample = FederationMetricsSample()
        sample.links = status.links.compactMap { link in
            link.overlay.map {
                FederationMetricsSample.Link(overlay: $0.value, queuedBytes: link.queuedBytes, pendingRequests: link.pendingRequests,
                                             tunnels: link.tunnels, roundTripSeconds: link.roundTrip.map { Double($0.nanoseconds) / 1e9 })
            }
        }
        sample.refusedFanOut = status.refusedFrames
        sample.unauthenticatedClosed = status.unauthenticatedClosed
        return sample
    }

    var lines: [String] {
        var lines = ["overlay: \(overlay ?? "-")" + (gatewayPort.map { ", gateway on port \($0)" } ?? "")]
        for remote in remoteOverlays {
            lines.append("  other overlay \(remote.overlay) via gateways \(remote.gateways.joined(separator: ",")): clusters "
                         + "\(remote.clusters.isEmpty ? "-" : remote.clusters.joined(separator: ",")), topics "
                         + "\(remote.topics.isEmpty ? "-" : remote.topics.joined(separator: ","))")
        }
        for link in links ?? [] {
            let rtt = link.roundTripMilliseconds.map { String(format: "%.1f ms", $0) } ?? "-"
            lines.append("  link to \(link.overlay ?? "?") (gateway \(link.gateway ?? "?")): \(link.state), rtt \(rtt), "
                         + "\(link.queuedBytes) B queued, \(link.pendingRequests) requests pending, \(link.servedRequests) served, "
                         + "\(link.refusedFrames) refused (queue full)")
        }
        if let unauthenticatedClosed, unauthenticatedClosed > 0 {
            lines.append("  \(unauthenticatedClosed) gateway connections closed before authenticating (wrong federation key?)")
        }
        return lines
    }
}

/// The `federation` key of the status document, decoded on its own by `plexus status`.
struct FederationHeadline: Decodable {
    var federation: FederationReport?
}
