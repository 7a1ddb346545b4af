import Atomics
import Logging
import NIOCore
import NIOPosix
import PlexusWire

/// The relay's client endpoint: listens on loopback and serves local clients with one `RelayCore`.
///
/// The server owns a single-threaded `MultiThreadedEventLoopGroup`: the listeners and every client
/// connection run on that one loop (the relay's core loop), which owns the core state. It is shut
/// down by `shutdown()`.
public final class RelayServer: Sendable {
    /// The bound port (the same on every address where possible).
    public let port: Int
    /// The addresses actually listening, as "host:port".
    public let boundAddresses: [String]

    private let group: MultiThreadedEventLoopGroup
    private let driver: NIOLoopBound<CoreDriver>
    private let listeners: [Channel]
    private let logger: Logger
    private let stopped = ManagedAtomic(false)

    private init(port: Int, boundAddresses: [String], group: MultiThreadedEventLoopGroup,
                 driver: NIOLoopBound<CoreDriver>, listeners: [Channel], logger: Logger) {
        self.port = port
        self.boundAddresses = boundAddresses
        self.group = group
        self.driver = driver
        self.listeners = listeners
        self.logger = logger
    }

    /// Binds every configured host (failing only if all binds fail) and starts serving.
    public static func start(configuration: RelayConfiguration, logger: Logger) async throws -> RelayServer {
        try configuration.validate()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let coreConfiguration = CoreConfiguration(configuration)
        let limits = configuration.effectiveWireLimits
        let driver = try await loop.submit {
            let driver = CoreDriver(configuration: coreConfiguration, eventLoop: loop, logger: logger)
            driver.interestObserver = configuration.interestObserver
            return NIOLoopBound(driver, eventLoop: loop)
        }.get()

        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ByteToMessageHandler(ClientPacketDecoder(limits: limits)))
                    try sync.addHandler(RelayConnectionHandler(driver: driver.value))
                }
            }

        var listeners: [Channel] = []
        var addresses: [String] = []
        var port = configuration.port
        var lastError: Error?
        for host in configuration.hosts {
            do {
                let channel = try await bootstrap.bind(host: host, port: port).get()
                if let bound = channel.localAddress?.port { port = bound }
                listeners.append(channel)
                addresses.append(host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
            } catch {
                logger.warning("relay bind failed", metadata: ["host": "\(host)", "port": "\(port)", "error": "\(error)"])
                lastError = error
            }
        }
        guard !listeners.isEmpty else {
            try? await group.shutdownGracefully()
            throw lastError ?? ChannelError.unknownLocalAddress
        }
        logger.info("relay listening", metadata: ["addresses": "\(addresses)"])
        return RelayServer(port: port, boundAddresses: addresses, group: group, driver: driver,
                           listeners: listeners, logger: logger)
    }

    /// A snapshot of connections, drop counters and queued bytes, taken on the core loop.
    public func statistics() async throws -> RelayStatistics {
        let driver = self.driver
        return try await driver.eventLoop.submit { driver.value.statistics }.get()
    }

    /// Graceful shutdown: stop accepting, send CLOSE("plexus: relay shutting down") to every
    /// client and close its socket once its queue is written (hard after 1 s), then stop the
    /// event loop. Idempotent: later calls return at once.
    public func shutdown() async {
        guard stopped.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            return
        }
        for listener in listeners { try? await listener.close() }
        let driver = self.driver
        try? await driver.eventLoop.flatSubmit {
            driver.value.shutdown(reason: "plexus: relay shutting down", grace: .seconds(1))
        }.get()
        try? await group.shutdownGracefully()
        logger.info("relay stopped")
    }
}
