import ArgumentParser
import Foundation
import Logging
import NIOCore
import PlexusCrypto
import PlexusHTTP
import PlexusMembership
import PlexusNode
import PlexusOverlay
import PlexusRelay
import PlexusRelayCore
import ServiceLifecycle

/// `plexus relay`: runs the relay daemon until SIGINT or SIGTERM, then leaves the overlay and
/// shuts down gracefully.
struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Run the Plexus relay (the per-host daemon) in the foreground."
    )
    static let defaultPeerPort = 55554

    @OptionGroup var flags: RelayFlags
    @OptionGroup var gatewayFlags: GatewayFlags

    func validate() throws {
        _ = try RelayOptions.resolve(flags, gateway: gatewayFlags.values, environment: ProcessInfo.processInfo.environment)
    }

    func run() async throws {
        // A reload signal (e.g. `systemctl reload`) that arrives while the relay starts is ignored
        // instead of ending the process; the key reloaders trap it once they run (they log
        // "SIGHUP reloads …").
        signal(SIGHUP, SIG_IGN)
        let options = try RelayOptions.resolve(flags, gateway: gatewayFlags.values, environment: ProcessInfo.processInfo.environment)
        let logger = Logs.bootstrap(options.logLevel, format: options.logFormat, label: "plexus.relay")
        if let file = options.configFile { logger.info("configuration file read", metadata: ["path": "\(file)"]) }
        if !options.unknownEnvironment.isEmpty {
            logger.warning("ignoring PLEXUS_* environment variables that name no setting",
                           metadata: ["variables": "\(options.unknownEnvironment.joined(separator: ","))"])
        }
        try await run(options, logger: logger)
    }

    private func run(_ options: RelayOptions, logger: Logger) async throws {
        let port = options.port, dev = options.dev, joins = options.joins, key = options.key, dataDir = options.dataDir
        let handshakeTimeout = options.handshakeTimeout, outboundQueueLimit = options.outboundQueueLimit
        let acceptKeys = options.acceptKeys, peerHost = options.peerHost, peerPort = options.peerPort
        let advertise = options.advertise, zone = options.zone, profile = options.profile, discover = options.discover
        let discoverPort = options.discoverPort
        var configuration = RelayConfiguration()
        configuration.clusterKeys = try ClusterKeyring.load(options.clusterKeyOptions)
        configuration.protectedOnly = options.protectedOnly
        ClusterKeyLog.log(configuration.clusterKeys, protectedOnly: options.protectedOnly, logger: logger, message: "cluster keys loaded")
        configuration.port = port
        configuration.handshakeTimeout = .nanoseconds(Int64(handshakeTimeout * 1_000_000_000))
        configuration.outboundQueueLimitBytes = outboundQueueLimit

        let keyring: Keyring
        let identity: StaticIdentity
        if dev {
            keyring = Keyring(primary: .generate())
            identity = try dataDir.map { try StaticIdentity.loadOrCreate(dataDirectory: $0) } ?? .ephemeral()
        } else {
            guard let key else { throw ValidationError("a network key is required: pass --key FILE, or use --dev") }
            keyring = try Keyring.load(primaryPath: key, acceptedPaths: acceptKeys)
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
        guard let chosen = AdvertiseChoice.choose(
            explicit: advertise, dev: dev, peerHost: peerHost, seeds: seeds,
            routeSource: AdvertiseLookup.routeSource(to:), interfaceAddresses: AdvertiseLookup.interfaceAddresses)
        else {
            throw ValidationError("cannot choose an address to advertise to other relays (no route to the seeds from a "
                                  + "non-loopback address, or no non-loopback interface); pass --advertise ADDRESS")
        }
        if advertise == nil {
            logger.info("advertising an address chosen by default", metadata: ["address": "\(chosen.address)", "why": "\(chosen.reason)"])
        }
        let advertiseHost = chosen.address
        var overlayConfiguration = OverlayConfiguration(
            identity: identity, keyring: keyring, bindHost: peerHost ?? (dev ? "127.0.0.1" : "0.0.0.0"),
            peerPort: peerPort ?? (dev ? 0 : RelayCommand.defaultPeerPort), advertiseHost: advertiseHost,
            zone: zone, settings: profile == .lan ? .lan : .wan, seeds: seeds, logger: logger)
        overlayConfiguration.joinNames = joins
        let discovery = discover == nil ? nil : DiscoveryConfiguration(port: discoverPort, interfaceAddress: advertiseHost)
        let lifecycle = RelayLifecycleState(development: dev, expectsPeers: !joins.isEmpty || discovery != nil)
        let bindings = RelayBindings(port: port, peerHost: overlayConfiguration.bindHost, peerPort: overlayConfiguration.peerPort,
                                     http: options.http,
                                     httpToken: options.httpTokenRequired
                                         ? HTTPTokenSetting(explicitPath: options.httpTokenFile, dataDirectory: dataDir) : nil)
        let started = try await RelayStartup.start(relay: configuration, overlay: overlayConfiguration, discovery: discovery,
                                                   bindings: bindings, lifecycle: lifecycle, logger: logger)
        if dev { logger.info("development mode: random network key, joins nothing") }
        let gateway = try await GatewayStartup.start(options.gateway, node: started.node, identity: identity, networkKeyring: keyring,
                                                     dev: dev, peerHost: peerHost, logger: logger)
        let service = RelayDaemon(node: started.node, http: started.http, tokenFile: started.tokenFile, lifecycle: lifecycle, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: service),
                                            .init(service: ClusterKeyReloader(node: started.node, flags: ClusterKeyFlags(flags),
                                                                              logger: logger),
                                                  successTerminationBehavior: .ignore)]
                                 + (gateway.map { [.init(service: GatewayDaemon(gateway: $0)),
                                                   .init(service: FederationKeyReloader(gateway: $0, config: flags.config,
                                                                                        flags: gatewayFlags.values, started: options.gateway,
                                                                                        logger: logger),
                                                         successTerminationBehavior: .ignore)] } ?? []),
                                 gracefulShutdownSignals: [.sigterm, .sigint],
                                 logger: logger))
        try await group.run()
    }
}

/// The relay as a ServiceLifecycle service: tells systemd it is ready, waits for graceful
/// shutdown (SIGTERM/SIGINT), then reports "draining" on `/readyz`, drains (pending requests
/// finish), leaves the overlay (1 s of gossip), closes the overlay sockets, closes the client
/// listeners, sends CLOSE to clients, and closes the HTTP endpoint last.
struct RelayDaemon: Service {
    let node: RelayNode
    let http: HTTPEndpoint?
    /// Removed when the relay stops cleanly.
    let tokenFile: (path: String, token: HTTPAccessToken)?
    let lifecycle: RelayLifecycleState
    let logger: Logger

    func run() async throws {
        // Ready only now: the service group handles SIGTERM from here on (a stop drains).
        let endpoint = http.map { "HTTP endpoint on \($0.address)" } ?? "no HTTP endpoint"
        SystemdNotifier.notify("READY=1\nSTATUS=serving clients on port \(node.relay.port); \(endpoint)")
        try? await gracefulShutdown()
        logger.info("relay shutting down")
        SystemdNotifier.notify("STOPPING=1\nSTATUS=draining")
        lifecycle.setDraining()
        await node.shutdown()
        lifecycle.setServing(false)
        await http?.close()
        if let tokenFile { tokenFile.token.remove(at: tokenFile.path) }
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
        lostEvents = s.lostEvents
        lostBroadcasts = s.lostBroadcasts
    }
}
