import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PlexusWire

/// Where and as what a `Connection` attaches to its relay: fixed for its lifetime, reused by
/// every reconnect.
struct Endpoint: Sendable {
    var host: String
    var port: Int
    /// The service's cluster, or "" for a plain client.
    var cluster: String
    var logger: Logger
}

/// One TCP connection to the relay after a successful handshake: the socket, its
/// `ConnectionCore` (which lives on the socket's event loop) and the fire-and-forget outbox.
/// A `Connection` has one at a time; a reconnect makes the next (`generation` + 1).
struct ConnectionSession: Sendable {
    let core: NIOLoopBound<ConnectionCore>
    let channel: any Channel
    let outbox: Outbox
    /// Set (before the owner hears of it) once the connection stopped accepting operations.
    let endedError: NIOLockedValueBox<PlexusError?>
    let generation: UInt64
    var eventLoop: any EventLoop { channel.eventLoop }

    /// Connects, adds the core to the pipeline and completes the handshake (INIT; the relay's
    /// INIT or DENY). `onEnded` hears, once, how the connection ended after the handshake.
    static func open(
        _ endpoint: Endpoint,
        service: ServiceDispatch?,
        generation: UInt64,
        onEnded: @escaping @Sendable (SessionEnding) -> Void
    ) async throws -> ConnectionSession {
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: endpoint.host, port: endpoint.port)
                .get()
        } catch {
            throw PlexusError.connectionFailed("\(endpoint.host):\(endpoint.port): \(error)")
        }
        let loop = channel.eventLoop
        let handshake = loop.makePromise(of: Void.self)
        let session: ConnectionSession
        do {
            session = try await loop.submit {
                let core = ConnectionCore(
                    eventLoop: loop, cluster: endpoint.cluster, service: service, generation: generation,
                    logger: endpoint.logger, handshake: handshake, onEnded: onEnded)
                let bound = NIOLoopBound(core, eventLoop: loop)
                core.selfBound = bound
                try channel.pipeline.syncOperations.addHandler(core)
                if !channel.isActive {
                    handshake.fail(PlexusError.connectionFailed("connection closed before the handshake"))
                } else {
                    core.sendHandshake()
                }
                return ConnectionSession(core: bound, channel: channel, outbox: core.outbox, endedError: core.endedError, generation: generation)
            }.get()
        } catch {
            channel.close(promise: nil)
            handshake.fail(error)
            throw PlexusError.connectionFailed("\(error)")
        }
        do {
            try await handshake.futureResult.get()
        } catch {
            channel.close(promise: nil)
            throw error
        }
        return session
    }

    /// Runs `body` on the core's event loop and waits for it.
    func perform<T: Sendable>(_ body: @escaping @Sendable (ConnectionCore) throws -> T) async throws -> T {
        let core = self.core
        return try await eventLoop.submit { try body(core.value) }.get()
    }

    /// Runs `body` on the core's event loop without waiting.
    func execute(_ body: @escaping @Sendable (ConnectionCore) -> Void) {
        let core = self.core
        eventLoop.execute { body(core.value) }
    }
}
