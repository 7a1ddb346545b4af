import ArgumentParser
import Logging
import NIOCore
import PlexusRelay
import ServiceLifecycle

/// `plexus relay`: runs the relay daemon until SIGINT or SIGTERM, then shuts down gracefully.
struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Run the Plexus relay (the per-host daemon) in the foreground."
    )

    @Option(help: "Client endpoint port, on 127.0.0.1 and ::1.")
    var port: Int = 55555

    @Flag(help: "Development mode: no configuration needed, joins nothing.")
    var dev = false

    @Option(help: "Seconds a new client connection may take to complete its handshake.")
    var handshakeTimeout: Double = 5

    @Option(help: "Bound, in bytes, of each client connection's outbound queue.")
    var outboundQueueLimit: Int = 8 * 1024 * 1024

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: LogLevelArgument = .init(level: .info)

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard handshakeTimeout > 0 else { throw ValidationError("--handshake-timeout must be positive") }
        guard outboundQueueLimit >= 64 * 1024 else { throw ValidationError("--outbound-queue-limit must be at least 65536 bytes") }
    }

    func run() async throws {
        let logger = Logs.bootstrap(logLevel.level, label: "plexus.relay")
        var configuration = RelayConfiguration()
        configuration.port = port
        configuration.handshakeTimeout = .nanoseconds(Int64(handshakeTimeout * 1_000_000_000))
        configuration.outboundQueueLimitBytes = outboundQueueLimit
        let service = RelayDaemon(configuration: configuration, dev: dev, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: service)],
                                 gracefulShutdownSignals: [.sigterm, .sigint],
                                 logger: logger))
        try await group.run()
    }
}

/// The relay as a ServiceLifecycle service: starts it, waits for graceful shutdown, stops it.
struct RelayDaemon: Service {
    let configuration: RelayConfiguration
    let dev: Bool
    let logger: Logger

    func run() async throws {
        let relay = try await RelayServer.start(configuration: configuration, logger: logger)
        if dev { logger.info("development mode: no configuration, joins nothing") }
        try? await gracefulShutdown()
        logger.info("relay shutting down")
        await relay.shutdown()
    }
}
