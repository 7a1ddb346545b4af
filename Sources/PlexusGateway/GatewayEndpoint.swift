import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PlexusCrypto
import PlexusFederation
import PlexusPeerWire
import PlexusSession
import PlexusVocabulary

/// A running gateway: the listener on the gateway port, one dial loop per `--gateway-join`
/// target, and the `GatewayDriver` on one event loop.
///
/// Guarantees: every link is a Noise XXpsk3 session whose PSK is the federation key (a peer
/// without it fails the handshake and receives nothing in clear); each join target is redialled
/// every `redialInterval` while it has no link; `shutdown()` closes everything. All public methods
/// may be called from any thread.
public final class GatewayEndpoint: Sendable {
    private let driver: NIOLoopBound<GatewayDriver>
    private let server: Channel
    /// The federation keyring every new handshake (accepted or dialled) uses; swapped by
    /// `updateFederationKeyring`.
    private let keyring: NIOLockedValueBox<Keyring>
    /// The port the gateway listens on.
    public let port: Int
    public var eventLoop: EventLoop { driver.eventLoop }

    private init(driver: NIOLoopBound<GatewayDriver>, server: Channel, port: Int, keyring: NIOLockedValueBox<Keyring>) {
        self.keyring = keyring
        self.driver = driver
        self.server = server
        self.port = port
    }

    /// Binds the gateway port on `loop` and starts dialing the join targets.
    public static func start(configuration: GatewayConfiguration, hooks: GatewayHooks, on loop: EventLoop) async throws -> GatewayEndpoint {
        let driver = try await loop.submit {
            let driver = GatewayDriver(eventLoop: loop, router: GatewayRouter(settings: configuration.routerSettings), hooks: hooks,
                                       maxLinks: configuration.maxLinks, logger: configuration.logger)
            driver.startTicking()
            return NIOLoopBound(driver, eventLoop: loop)
        }.get()
        let keyring = NIOLockedValueBox(configuration.federationKeyring)
        let server = try await ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let responder = SessionConfiguration(role: .responder, identity: configuration.identity,
                                                         keyring: keyring.withLockedValue { $0 },
                                                         handshakeTimeout: configuration.handshakeTimeout, logger: configuration.logger)
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NoiseSessionHandler(configuration: responder))
                    try sync.addHandler(driver.value.admission.makeHandler())
                    try sync.addHandler(GatewayChannelHandler(driver: driver.value))
                }
            }
            .bind(host: configuration.host, port: configuration.port).get()
        let endpoint = GatewayEndpoint(driver: driver, server: server, port: server.localAddress?.port ?? configuration.port,
                                       keyring: keyring)
        configuration.logger.info("gateway of overlay \(configuration.overlay) listening on \(configuration.host):\(endpoint.port)")
        for target in configuration.joins {
            loop.execute { Self.dial(target, configuration: configuration, keyring: keyring, driver: driver) }
        }
        return endpoint
    }

    /// Dials `target`; when the link ends or the dial fails, dials again after `redialInterval`.
    private static func dial(_ target: (host: String, port: Int), configuration: GatewayConfiguration,
                             keyring: NIOLockedValueBox<Keyring>, driver: NIOLoopBound<GatewayDriver>) {
        guard !driver.value.closed else { return }
        let loop = driver.eventLoop
        let initiator = SessionConfiguration(role: .initiator, identity: configuration.identity, keyring: keyring.withLockedValue { $0 },
                                             handshakeTimeout: configuration.handshakeTimeout, logger: configuration.logger)
        let again: @Sendable () -> Void = {
            loop.scheduleTask(in: configuration.redialInterval) { dial(target, configuration: configuration, keyring: keyring, driver: driver) }
        }
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(3))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NoiseSessionHandler(configuration: initiator))
                    try sync.addHandler(GatewayChannelHandler(driver: driver.value, onEnd: { again() }))
                }
            }
            .connect(host: target.host, port: target.port)
            .whenFailure { error in
                configuration.logger.debug("gateway join \(target.host):\(target.port) failed: \(error)")
                again()
            }
    }

    // MARK: From the relay (any thread)

    /// Sends a request of this overlay to another that serves `cluster`; answered through
    /// `GatewayHooks.requestAnswered(ticket, …)` exactly once.
    public func request(ticket: UInt64, cluster: String, payload: ByteBuffer, millisecondsLeft: UInt64) {
        let driver = self.driver
        driver.eventLoop.execute { driver.value.request(ticket: ticket, cluster: cluster, payload: payload, millisecondsLeft: millisecondsLeft) }
    }

    /// Sends a broadcast of this overlay to `overlay`.
    public func broadcast(overlay: OverlayName, cluster: String, message: ByteBuffer) {
        let driver = self.driver
        driver.eventLoop.execute { driver.value.broadcast(overlay: overlay, cluster: cluster, message: message) }
    }

    /// Sends an event published on `publisher` (a relay of this overlay) to `overlay`.
    public func publish(overlay: OverlayName, topic: String, event: ByteBuffer, publisher: NodeID) {
        let driver = self.driver
        driver.eventLoop.execute { driver.value.publish(overlay: overlay, topic: topic, event: event, publisher: publisher) }
    }

    /// The answer to `GatewayHooks.deliverRequest(ticket, …)`.
    public func answer(ticket: UInt64, outcome: PeerReplyOutcome) {
        let driver = self.driver
        driver.eventLoop.execute { driver.value.answer(ticket: ticket, outcome: outcome) }
    }

    /// A relay-to-relay tunnel frame the relay core handed over: from relay `relay`
    /// (`FederatedTunnels.gatewayNode` for the core itself).
    public func tunnelFromRelay(_ frame: PeerFrame, relay: NodeID) {
        let driver = self.driver
        driver.eventLoop.execute { driver.value.perform(driver.value.router.tunnelFromRelay(frame, relay: relay, now: .now())) }
    }

    /// The relay core lost relay `node`: tunnels whose end was there close toward the other overlay.
    public func relayFailed(_ node: NodeID) {
        let driver = self.driver
        driver.eventLoop.execute { driver.value.perform(driver.value.router.relayFailed(node)) }
    }

    /// This overlay's interest (clusters with members, topics with subscribers) changed.
    public func localInterestChanged(clusters: Set<String>, topics: Set<String>) {
        let driver = self.driver
        driver.eventLoop.execute { driver.value.localInterestChanged(clusters: clusters, topics: topics) }
    }

    /// Replaces the federation keyring (SIGHUP). Only handshakes started from now on use it:
    /// established links keep their sessions (a Noise session's keys do not depend on the PSK
    /// once the handshake is done), so a rotation drops no link. A peer that then has none of
    /// these keys is refused at its next (re)connection.
    public func updateFederationKeyring(_ keyring: Keyring) {
        self.keyring.withLockedValue { $0 = keyring }
    }

    /// The fingerprint of the federation key new handshakes use as primary.
    public var federationKeyFingerprint: String { keyring.withLockedValue { "\($0.primary.fingerprint)" } }

    /// The links, their state, queues, round trips and the interest each announced.
    public func status() async throws -> GatewayStatus {
        let driver = self.driver
        return try await driver.eventLoop.submit {
            GatewayStatus(overlay: driver.value.router.settings.overlay, port: 0, links: driver.value.router.status,
                          refusedFrames: driver.value.overloaded, unauthenticatedClosed: driver.value.unauthenticatedClosed)
        }.get().with(port: port)
    }

    /// Closes the listener and every link.
    public func shutdown() async {
        let driver = self.driver
        try? await driver.eventLoop.submit { driver.value.shutdown() }.get()
        try? await server.close()
    }
}

/// What `plexus status` shows about a gateway.
public struct GatewayStatus: Sendable {
    public var overlay: OverlayName
    public var port: Int
    public var links: [GatewayLinkStatus]
    /// Frames refused because a link's queue was over its bound.
    public var refusedFrames: Int
    /// Connections that ended before they authenticated (e.g. a gateway with another federation key).
    public var unauthenticatedClosed: Int

    func with(port: Int) -> GatewayStatus {
        var copy = self
        copy.port = port
        return copy
    }
}
