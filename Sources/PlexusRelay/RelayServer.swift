import Atomics
import Logging
import NIOCore
import PlexusRelayCore
import NIOPosix
import PlexusMembership
import PlexusPeering
import PlexusSession
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
    /// Where the overlay's peer port hands the relay-to-relay messaging sessions it accepts
    /// (nil for a stand-alone relay): `OverlayConfiguration.sessionAcceptor`. The relay binds no
    /// port of its own for them.
    public let sessionAcceptor: PeerPortSessionAcceptor?

    private let group: MultiThreadedEventLoopGroup
    let driver: NIOLoopBound<CoreDriver>
    /// The core's driver, for extensions in other files (cluster keys).
    var coreDriver: NIOLoopBound<CoreDriver> { driver }
    private let listeners: [Channel]
    private let logger: Logger
    private let stopped = ManagedAtomic(false)

    private init(port: Int, boundAddresses: [String], sessionAcceptor: PeerPortSessionAcceptor?, group: MultiThreadedEventLoopGroup,
                 driver: NIOLoopBound<CoreDriver>, listeners: [Channel], logger: Logger) {
        self.port = port
        self.boundAddresses = boundAddresses
        self.sessionAcceptor = sessionAcceptor
        self.group = group
        self.driver = driver
        self.listeners = listeners
        self.logger = logger
    }

    /// Binds every configured host (failing only if all binds fail) and starts serving.
    ///
    /// With `peering` (and `configuration.overlay` set) the relay also keeps sessions with other
    /// relays (dialed to their peer port, or accepted on its own through `sessionAcceptor`) and
    /// routes through the directory fed by `updateDirectory`; the sessions run on the relay's
    /// core loop, so no message crosses threads.
    public static func start(configuration: RelayConfiguration, peering: PeerLinksConfiguration? = nil,
                             logger: Logger) async throws -> RelayServer {
        try configuration.validate()
        if peering != nil, configuration.overlay == nil {
            throw RelayConfigurationError("peering needs configuration.overlay (this relay's node ID and zone)", code: .inconsistent)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let coreConfiguration = CoreConfiguration(configuration)
        let limits = configuration.effectiveWireLimits
        let driver = try await loop.submit {
            let driver = CoreDriver(configuration: coreConfiguration, eventLoop: loop, logger: logger)
            driver.interestObserver = configuration.interestObserver
            driver.peerActivityObserver = configuration.peerActivityObserver
            driver.peerActivityInterval = configuration.peerActivityInterval
            driver.startLossReports()
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
                    try sync.addHandler(RelayConnectionHandler(driver: driver.value, limits: limits))
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
        var sessionAcceptor: PeerPortSessionAcceptor?
        if let peering {
            do {
                let links = try await PeerLinks.start(configuration: peering, on: loop, listen: false)
                try await loop.submit { driver.value.attach(links.value) }.get()
                sessionAcceptor = PeerLinks.acceptor(links)
            } catch {
                for listener in listeners { try? await listener.close() }
                try? await group.shutdownGracefully()
                throw error
            }
        }
        logger.info("relay listening", metadata: ["addresses": "\(addresses)"])
        return RelayServer(port: port, boundAddresses: addresses, sessionAcceptor: sessionAcceptor, group: group,
                           driver: driver, listeners: listeners, logger: logger)
    }

    /// A snapshot of connections, drop counters and queued bytes, taken on the core loop.
    public func statistics() async throws -> RelayStatistics {
        let driver = self.driver
        return try await driver.eventLoop.submit { driver.value.statistics }.get()
    }

    /// Traffic per peer relay, handshake failures of relay-to-relay sessions and the stand-alone
    /// listener's admission, taken on the core loop (nil for a stand-alone relay). For scrapes:
    /// the counting itself is plain integers on the loop.
    public func peerLinksReport() async throws -> PeerLinksReport? {
        let driver = self.driver
        return try await driver.eventLoop.submit { driver.value.peerLinks?.report() }.get()
    }

    /// Feeds a new directory snapshot to the core (routing view and session addresses).
    public func updateDirectory(_ snapshot: DirectorySnapshot) {
        let driver = self.driver
        driver.eventLoop.execute { driver.value.directoryChanged(snapshot) }
    }

    /// The overlay declared `node` dead or departed: what is pending there fails at once.
    public func relayDeparted(_ node: NodeID) {
        let driver = self.driver
        driver.eventLoop.execute { driver.value.relayDeparted(node) }
    }

    /// Graceful leave before `shutdown`: tells the relays with a session that this one is
    /// draining (they stop sending new requests and tunnels), waits until the requests delivered
    /// here and those forwarded from here are answered or `timeout` passes, then tells them it is
    /// leaving (they fail whatever is still pending here at once).
    public func drain(timeout: TimeAmount) async {
        let driver = self.driver
        try? await driver.eventLoop.submit { driver.value.startDraining() }.get()
        let end = NIODeadline.now() + timeout
        while NIODeadline.now() < end {
            let pending = (try? await driver.eventLoop.submit { driver.value.pendingWork }.get()) ?? 0
            if pending == 0 { break }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        try? await driver.eventLoop.submit { driver.value.announceLeaving() }.get()
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
        try? await driver.eventLoop.flatSubmit {
            driver.value.peerLinks?.shutdown() ?? driver.eventLoop.makeSucceededVoidFuture()
        }.get()
        try? await group.shutdownGracefully()
        logger.info("relay stopped")
    }
}
