import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PlexusSession

/// A handle to the loop-bound `OverlayDriver` for code running on another loop (the peer port's
/// TCP connections run on the relay's loop when it receives messaging sessions): `run` executes
/// on the driver's loop, inline when already there.
struct OverlayDriverHandle: Sendable {
    let bound: NIOLoopBound<OverlayDriver>

    init(_ bound: NIOLoopBound<OverlayDriver>) { self.bound = bound }

    var eventLoop: EventLoop { bound.eventLoop }

    func run(_ body: @escaping @Sendable (OverlayDriver) -> Void) {
        if bound.eventLoop.inEventLoop {
            body(bound.value)
        } else {
            let bound = self.bound
            bound.eventLoop.execute { body(bound.value) }
        }
    }
}

/// The peer port: UDP for sealed datagrams and ONE TCP listener for both kinds of relay-to-relay
/// connection. Every accepted connection is counted once by the port's `AdmissionController`
/// (at accept, before its preface), then its `PeerPortPreface` byte selects the pipeline: 'M' a
/// membership stream (Noise + `StreamReceiver`), 'S' a messaging session built by
/// `OverlayConfiguration.sessionAcceptor`. Anything else, or nothing within the deadline,
/// closes that connection alone and is counted (`prefacesRefused`, `prefacesTimedOut`).
///
/// The TCP listener and its connections run on the acceptor's loop when there is one (so
/// messaging sessions stay on the relay's loop), else on the overlay's; the admission controller
/// lives on that loop, and membership frames hop to the overlay's loop.
struct PeerPortListener: Sendable {
    let configuration: OverlayConfiguration
    let driver: OverlayDriverHandle
    let knownHosts: NIOLockedValueBox<Set<String>>
    /// The responder session configuration of membership streams, set once the overlay started
    /// (it carries the advertised address, known only after binding). Streams before it are closed.
    let responder: NIOLockedValueBox<SessionConfiguration?>

    /// Binds UDP and TCP on the same port; for port 0 retries with the UDP port's number.
    func bind() async throws -> Int {
        let tcpLoop = configuration.sessionAcceptor?.eventLoop ?? driver.eventLoop
        let (limits, logger, knownHosts, driver) = (configuration.admissionLimits, configuration.logger, knownHosts, driver)
        let admission = try await tcpLoop.submit {
            let controller = AdmissionController(eventLoop: tcpLoop, limits: limits, logger: logger) { host in
                knownHosts.withLockedValue { $0.contains(host) }
            }
            controller.observer = { event in driver.run { $0.count(event) } }
            return NIOLoopBound(controller, eventLoop: tcpLoop)
        }.get()
        let served: Set<PeerPortPreface> = configuration.sessionAcceptor == nil
            ? [.membershipStream] : [.membershipStream, .messagingSession]
        var lastError: Error = ChannelError.unknownLocalAddress
        for _ in 0..<(configuration.peerPort == 0 ? 8 : 1) {
            let udp = try await Overlay.datagramBootstrap(loop: driver.eventLoop, driver: driver.bound)
                .bind(host: configuration.bindHost, port: configuration.peerPort).get()
            let port = udp.localAddress?.port ?? configuration.peerPort
            do {
                let tcp = try await ServerBootstrap(group: tcpLoop)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .serverChannelOption(.backlog, value: 128)
                    .serverChannelInitializer { server in
                        server.eventLoop.makeCompletedFuture {
                            // Out of file descriptors: pause accepting instead of spinning.
                            try server.pipeline.syncOperations.addHandler(AcceptBackoffHandler(backoffProvider: { error in
                                admission.value.acceptBackoff(after: error)
                            }))
                        }
                    }
                    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            let sync = channel.pipeline.syncOperations
                            try sync.addHandler(PeerPortPrefaceHandler(served: served, route: route) { error in
                                driver.run { $0.count(error) }
                            })
                            // Counts the connection once, at accept (before the preface): per
                            // source, total, reserve for members; closes it unless it
                            // authenticates in time. The route's Noise handler goes before it.
                            try sync.addHandler(admission.value.makeHandler())
                        }
                    }
                    .bind(host: configuration.bindHost, port: port).get()
                try await driver.eventLoop.submit { driver.bound.value.attach(udp: udp, tcp: tcp) }.get()
                return port
            } catch {
                lastError = error
                try? await udp.close()
            }
        }
        throw lastError
    }

    /// The pipeline behind a served preface.
    private func route(_ kind: PeerPortPreface, _ channel: Channel) throws -> PeerPortPipeline {
        switch kind {
        case .membershipStream:
            guard let responder = responder.withLockedValue({ $0 }) else { throw PeerPortPrefaceError.unservedPreface(kind) }
            return PeerPortPipeline(session: try NoiseSessionHandler(configuration: responder),
                                    application: [StreamReceiver(driver: driver)])
        case .messagingSession:
            guard let acceptor = configuration.sessionAcceptor else { throw PeerPortPrefaceError.unservedPreface(kind) }
            return try acceptor.pipeline(channel)
        }
    }
}
