import ArgumentParser
import Logging
import NIOCore
import PlexusCrypto
import PlexusHTTP
import PlexusMembership
import PlexusNode
import PlexusOverlay
import PlexusRelay
import ServiceLifecycle

/// `plexus relay`: runs the relay daemon until SIGINT or SIGTERM, then leaves the overlay and
/// shuts down gracefully.
struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Run the Plexus relay (the per-host daemon) in the foreground."
    )
    static let defaultHTTP = HTTPListenAddress.defaultValue
    static let defaultPeerPort = 55554

    enum Profile: String, ExpressibleByArgument, CaseIterable { case lan, wan }

    @Option(help: "Client endpoint port, on 127.0.0.1 and ::1.")
    var port: Int = 55555

    @Flag(help: "Development mode: random network key, throw-away identity, joins nothing.")
    var dev = false

    @Option(name: .customLong("join"), help: "HOST:PORT of a relay to join (repeatable; a name with several addresses joins all).")
    var joins: [String] = []

    @Option(help: "Peer port (UDP gossip and TCP sessions, same number); 0 = ephemeral. Default 55554 (0 with --dev).")
    var peerPort: Int?

    @Option(help: "Address the peer listeners bind. Default 0.0.0.0 (127.0.0.1 with --dev).")
    var peerHost: String?

    @Option(help: "Host other relays use to reach this one.")
    var advertise: String = "127.0.0.1"

    @Option(help: "Zone of this relay (e.g. a data-centre or rack name).")
    var zone: String = ""

    @Option(help: "Membership timing profile: lan or wan.")
    var profile: Profile = .lan

    @Option(help: "Network key file (required unless --dev).")
    var key: String?

    @Option(name: .customLong("accept-key"), help: "Additional network key file accepted during rotation (repeatable).")
    var acceptKeys: [String] = []

    @Option(help: "Data directory; the static identity is kept there so the node ID survives restarts.")
    var dataDir: String?

    @Option(help: "Opt-in discovery: 'lan' sends sealed multicast beacons (239.255.80.88) on the --advertise interface and joins relays it hears.")
    var discover: String?

    @Option(help: "UDP port of the LAN discovery group.")
    var discoverPort: Int = 55552

    @Option(help: "HTTP endpoint (health, readiness, metrics, status, dashboard): HOST:PORT, or 'off'.")
    var http: String = "127.0.0.1:55580"

    @Option(help: .hidden)
    var adminPort: Int?

    @Option(help: "Seconds a new client connection may take to complete its handshake.")
    var handshakeTimeout: Double = 5

    @Option(help: "Bound, in bytes, of each client connection's outbound queue.")
    var outboundQueueLimit: Int = 8 * 1024 * 1024

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: LogLevelArgument = .init(level: .info)

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard (0...65535).contains(peerPort ?? 0) else { throw ValidationError("--peer-port must be between 0 and 65535") }
        guard (0...65535).contains(adminPort ?? 0) else { throw ValidationError("--admin-port must be between 0 and 65535") }
        do { _ = try httpAddress } catch { throw ValidationError("--http \(error)") }
        guard handshakeTimeout > 0 else { throw ValidationError("--handshake-timeout must be positive") }
        guard outboundQueueLimit >= 64 * 1024 else { throw ValidationError("--outbound-queue-limit must be at least 65536 bytes") }
        if dev {
            guard joins.isEmpty else { throw ValidationError("--dev joins nothing; drop --join or --dev") }
        } else {
            guard key != nil else {
                throw ValidationError("a network key is required: pass --key FILE (create one with `plexus keygen`), or use --dev")
            }
        }
        for join in joins { _ = try SeedResolver.split(join) }
        if let discover {
            guard discover == "lan" else { throw ValidationError("--discover supports only 'lan'") }
            guard !dev else { throw ValidationError("--dev joins nothing; drop --discover or --dev") }
            guard advertise.split(separator: ".").count == 4, advertise.allSatisfy({ $0.isNumber || $0 == "." }) else {
                throw ValidationError("--discover lan needs --advertise set to this host's IPv4 address on the LAN interface")
            }
            guard (1...65535).contains(discoverPort) else { throw ValidationError("--discover-port must be between 1 and 65535") }
        }
    }

    /// `--http`, or the deprecated `--admin-port N` (= `--http 127.0.0.1:N`).
    var httpAddress: HTTPListenAddress {
        get throws {
            if let adminPort { return .address(host: "127.0.0.1", port: adminPort) }
            return try HTTPListenAddress.parse(http)
        }
    }

    func run() async throws {
        let logger = Logs.bootstrap(logLevel.level, label: "plexus.relay")
        var configuration = RelayConfiguration()
        configuration.port = port
        configuration.handshakeTimeout = .nanoseconds(Int64(handshakeTimeout * 1_000_000_000))
        configuration.outboundQueueLimitBytes = outboundQueueLimit

        let keyring: Keyring
        let identity: StaticIdentity
        if dev {
            keyring = Keyring(primary: .generate())
            identity = try dataDir.map { try StaticIdentity.loadOrCreate(dataDirectory: $0) } ?? .ephemeral()
        } else {
            keyring = try Keyring.load(primaryPath: key!, acceptedPaths: acceptKeys)
            if let dataDir {
                identity = try StaticIdentity.loadOrCreate(dataDirectory: dataDir)
            } else {
                logger.notice("no --data-dir: using a throw-away identity (the node ID changes on restart)")
                identity = .ephemeral()
            }
        }
        var seeds: [NodeAddress] = []
        for join in joins {
            do {
                let resolved = try SeedResolver.resolve(join)
                logger.info("join target resolved", metadata: ["join": "\(join)", "addresses": "\(resolved.map(\.description))"])
                seeds.append(contentsOf: resolved.filter { !seeds.contains($0) })
            } catch {
                logger.warning("cannot resolve join target", metadata: ["join": "\(join)", "error": "\(error)"])
            }
        }
        var overlayConfiguration = OverlayConfiguration(
            identity: identity, keyring: keyring, bindHost: peerHost ?? (dev ? "127.0.0.1" : "0.0.0.0"),
            peerPort: peerPort ?? (dev ? 0 : RelayCommand.defaultPeerPort), advertiseHost: advertise,
            zone: zone, settings: profile == .lan ? .lan : .wan, seeds: seeds, logger: logger)
        overlayConfiguration.joinNames = joins
        let discovery = discover == nil ? nil : DiscoveryConfiguration(port: discoverPort, interfaceAddress: advertise)
        let lifecycle = RelayLifecycleState(development: dev, expectsPeers: !joins.isEmpty || discovery != nil)
        let bindings = RelayBindings(port: port, peerHost: overlayConfiguration.bindHost, peerPort: overlayConfiguration.peerPort,
                                     http: try httpAddress)
        let started = try await RelayStartup.start(relay: configuration, overlay: overlayConfiguration, discovery: discovery,
                                                   bindings: bindings, lifecycle: lifecycle, logger: logger)
        if dev { logger.info("development mode: random network key, joins nothing") }
        let service = RelayDaemon(node: started.node, http: started.http, lifecycle: lifecycle, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: service)],
                                 gracefulShutdownSignals: [.sigterm, .sigint],
                                 logger: logger))
        try await group.run()
    }
}

/// The relay as a ServiceLifecycle service: waits for graceful shutdown (SIGTERM/SIGINT), then
/// reports "draining" on `/readyz`, drains (pending requests finish), closes the client
/// listeners, sends CLOSE to clients, leaves the overlay, and closes the HTTP endpoint last.
struct RelayDaemon: Service {
    let node: RelayNode
    let http: HTTPEndpoint?
    let lifecycle: RelayLifecycleState
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.info("relay shutting down")
        lifecycle.setDraining()
        await node.shutdown()
        lifecycle.setServing(false)
        await http?.close()
    }
}

extension RelayReport {
    init(_ s: RelayStatistics) {
        self.init(connections: s.connections, pendingRequests: s.pendingRequests, forwardedRequests: s.forwardedRequests,
                  tunnels: s.tunnels, queuedBytes: s.queuedBytes, peerQueuedBytes: s.peerQueuedBytes,
                  peerSessions: s.peerSessions, peerFramesSent: s.peerFramesSent,
                  peerFramesReceived: s.peerFramesReceived, peerSessionFailures: s.peerSessionFailures,
                  droppedBroadcasts: s.droppedBroadcasts, droppedEvents: s.droppedEvents,
                  overloadedRequests: s.overloadedRequests)
    }
}
