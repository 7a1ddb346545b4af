import Logging
import NIOCore
import PlexusWire

/// A connection to the local relay (relay protocol v1.0-draft2): a plain client (`connect`)
/// or a service registered in a cluster (`register`).
///
/// Guarantees:
/// * It survives relay restarts: when the relay is lost it reconnects as its
///   `ReconnectPolicy` says (on by default), registers the service again and re-subscribes
///   every topic by itself. In-flight requests and open tunnels fail with
///   `PlexusError.connectionLost`; while reconnecting, calls fail at once with it. `events()`
///   reports every change.
/// * Cancelling the task that awaits a request, a tunnel construction, or a tunnel's receive
///   or send ends it at once with `CancellationError`.
/// * Releasing the last reference without `close()` closes the socket (a `Subscription`
///   keeps its connection alive). `withConnection` closes for you.
/// * It is `Sendable`: share it between tasks freely. All protocol state lives on one NIO
///   event loop per relay connection; calls hop there and never block a thread.
public final class Connection: Sendable {
    let supervisor: ConnectionSupervisor
    /// The coder of the `Codable` conveniences (`request(_:to:as:timeout:)`, `publish(_:to:)`, …).
    public let coder: any MessageCoder

    private init(supervisor: ConnectionSupervisor, coder: any MessageCoder) {
        self.supervisor = supervisor
        self.coder = coder
    }

    deinit {
        supervisor.abandon()
    }

    /// Connects as a plain client. Fails if the relay cannot be reached now (no retry here:
    /// `reconnect` applies once connected).
    public static func connect(
        host: String = "127.0.0.1",
        port: Int = WireConstants.defaultPort,
        reconnect: ReconnectPolicy = .default,
        coder: any MessageCoder = JSONMessageCoder(),
        logger: Logger = Logger(label: "plexus")
    ) async throws -> Connection {
        let endpoint = Endpoint(host: host, port: port, cluster: "", logger: logger)
        let supervisor = try await ConnectionSupervisor.start(endpoint: endpoint, service: nil, policy: reconnect)
        return Connection(supervisor: supervisor, coder: coder)
    }

    /// Registers a service: a connection that is a member of `cluster` and whose `handler`
    /// receives requests, broadcasts and inbound tunnels, within `limits`. After a reconnect
    /// it is a member again without anything to do.
    public static func register(
        cluster: String,
        handler: some ServiceHandler,
        limits: ServiceLimits = .init(),
        host: String = "127.0.0.1",
        port: Int = WireConstants.defaultPort,
        reconnect: ReconnectPolicy = .default,
        coder: any MessageCoder = JSONMessageCoder(),
        logger: Logger = Logger(label: "plexus")
    ) async throws -> Connection {
        _ = try Validate.name(cluster, "cluster")
        let service = ServiceDispatch(
            handler: handler,
            requests: WorkQueue(limitBytes: Defaults.memory(limits.requestMemoryBytes)),
            broadcasts: WorkQueue(limitBytes: Defaults.memory(limits.broadcastMemoryBytes)))
        let endpoint = Endpoint(host: host, port: port, cluster: cluster, logger: logger)
        let supervisor: ConnectionSupervisor
        do {
            supervisor = try await ConnectionSupervisor.start(endpoint: endpoint, service: service, policy: reconnect)
        } catch {
            service.requests.finish()
            service.broadcasts.finish()
            throw error
        }
        startWorkers(service: service, limits: limits, supervisor: supervisor)
        return Connection(supervisor: supervisor, coder: coder)
    }

    /// Connects, runs `body`, and closes the connection whether `body` returns or throws.
    public static func withConnection<Result>(
        host: String = "127.0.0.1",
        port: Int = WireConstants.defaultPort,
        reconnect: ReconnectPolicy = .default,
        coder: any MessageCoder = JSONMessageCoder(),
        logger: Logger = Logger(label: "plexus"),
        isolation: isolated (any Actor)? = #isolation,
        _ body: (Connection) async throws -> Result
    ) async throws -> Result {
        let connection = try await connect(host: host, port: port, reconnect: reconnect, coder: coder, logger: logger)
        let result: Result
        do {
            result = try await body(connection)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
        return result
    }

    private static func startWorkers(service: ServiceDispatch, limits: ServiceLimits, supervisor: ConnectionSupervisor) {
        let handler = service.handler
        for _ in 0..<Defaults.concurrency(limits.requestConcurrency) {
            let requests = service.requests
            Task {
                while let request = await requests.take() {
                    // Expired while queued: discard without a reply (spec §11).
                    if NIODeadline.now() > request.expiry { continue }
                    let outcome: ReplyOutcome
                    do {
                        outcome = .success(try await handler.handleRequest(request.payload))
                    } catch {
                        outcome = .fault(ByteBuffer(string: PlexusError.faultText(for: error)))
                    }
                    supervisor.reply(to: request, outcome: outcome)
                }
            }
        }
        for _ in 0..<Defaults.concurrency(limits.broadcastConcurrency) {
            let broadcasts = service.broadcasts
            Task {
                while let message = await broadcasts.take() {
                    await handler.handleBroadcast(message)
                }
            }
        }
    }

    // MARK: State

    /// Where the connection stands now.
    public var state: ConnectionState { supervisor.connectionState }

    /// The connection's state changes from now on, in order (each call gives its own
    /// sequence; it finishes after `.closed`). Up to 256 unread events are kept.
    public func events() -> AsyncStream<ConnectionEvent> { supervisor.events() }

    // MARK: Request / reply

    /// Sends a request to one member of `cluster` and waits for its reply.
    ///
    /// Throws `.remoteFault(text)` if the handler failed, `.noMembers` if the cluster has no
    /// member on any relay, `.refused` if the relay will not route it now, `.timedOut` if the
    /// relay reported a timeout (or, defensively, nothing came within timeout +
    /// `Defaults.answerGrace`), `.connectionLost` if the relay was lost first (or is being
    /// reconnected), `.closed` after `close()`, `.invalidArgument` / `.limitExceeded` for bad
    /// arguments, and `CancellationError` at once if the awaiting task is cancelled.
    public func request(_ request: ByteBuffer, to cluster: String, timeout: Duration) async throws -> ByteBuffer {
        let name = try Validate.name(cluster, "cluster")
        try Validate.payload(request, "request")
        let ms = try Validate.milliseconds(timeout)
        let session = try supervisor.session()
        let core = session.core
        let loop = session.eventLoop
        let token = CancellationToken()
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                loop.execute {
                    core.value.request(cluster: name, payload: request, milliseconds: ms, token: token, continuation: continuation)
                }
            }
        } onCancel: {
            token.cancel()
            loop.execute { core.value.cancelRequest(token) }
        }
    }

    public func request(_ request: [UInt8], to cluster: String, timeout: Duration) async throws -> [UInt8] {
        var reply = try await self.request(ByteBuffer(bytes: request), to: cluster, timeout: timeout)
        return reply.readBytes(length: reply.readableBytes) ?? []
    }

    public func request(_ request: String, to cluster: String, timeout: Duration) async throws -> String {
        String(buffer: try await self.request(ByteBuffer(string: request), to: cluster, timeout: timeout))
    }

    // MARK: Fire-and-forget

    /// Sends `message` to every member of `cluster` (including this connection if it is one).
    public func broadcast(_ message: ByteBuffer, to cluster: String) async throws {
        let name = try Validate.name(cluster, "cluster")
        try Validate.payload(message, "broadcast message")
        try await fireAndForget(.broadcast(cluster: name, message: message))
    }

    public func broadcast(_ message: [UInt8], to cluster: String) async throws {
        try await broadcast(ByteBuffer(bytes: message), to: cluster)
    }

    public func broadcast(_ message: String, to cluster: String) async throws {
        try await broadcast(ByteBuffer(string: message), to: cluster)
    }

    /// Publishes `event` to every subscriber of `topic` (including this connection).
    public func publish(_ event: ByteBuffer, to topic: String) async throws {
        let name = try Validate.name(topic, "topic")
        try Validate.payload(event, "event")
        try await fireAndForget(.publish(topic: name, event: event))
    }

    public func publish(_ event: [UInt8], to topic: String) async throws {
        try await publish(ByteBuffer(bytes: event), to: topic)
    }

    public func publish(_ event: String, to topic: String) async throws {
        try await publish(ByteBuffer(string: event), to: topic)
    }

    // MARK: Publish / subscribe

    /// Subscribes to `topic`; the events arrive, in order, through the returned sequence. It
    /// ends normally on `Subscription.unsubscribe()` (or `close()`) and throws
    /// `.connectionLost` if the relay is lost for good; across a reconnect it goes on.
    /// Throws `.invalidArgument` if already subscribed (nothing is sent then). While
    /// reconnecting, the subscription is recorded and sent when the relay is back.
    public func subscribe(to topic: String, limits: SubscriptionLimits = .init()) async throws -> Subscription {
        _ = try Validate.name(topic, "topic")
        let queue = WorkQueue<ByteBuffer>(limitBytes: Defaults.memory(limits.eventMemoryBytes))
        try supervisor.subscribe(topic: topic, queue: queue)
        return Subscription(topic: topic, queue: queue, connection: self)
    }

    /// Subscribes to `topic`; `handler` runs for each event, at most
    /// `limits.eventConcurrency` at a time, started in arrival order. Stop with
    /// `unsubscribe(from:)`.
    public func subscribe(
        to topic: String,
        limits: SubscriptionLimits = .init(),
        handler: @escaping @Sendable (ByteBuffer) async -> Void
    ) async throws {
        _ = try Validate.name(topic, "topic")
        let queue = WorkQueue<ByteBuffer>(limitBytes: Defaults.memory(limits.eventMemoryBytes))
        try supervisor.subscribe(topic: topic, queue: queue)
        for _ in 0..<Defaults.concurrency(limits.eventConcurrency) {
            Task {
                while let event = await queue.take() { await handler(event) }
            }
        }
    }

    /// Unsubscribes from `topic`. Throws `.invalidArgument` if not subscribed (nothing is sent).
    public func unsubscribe(from topic: String) async throws {
        _ = try Validate.name(topic, "topic")
        try supervisor.unsubscribe(topic: topic, queue: nil)
    }

    // MARK: Tunnels

    /// Opens a tunnel to one member of `cluster`. Throws `.timedOut` if the relay could not
    /// build it within `timeout` (e.g. the cluster has no member), `CancellationError` at once
    /// if the awaiting task is cancelled.
    public func tunnel(to cluster: String, timeout: Duration) async throws -> Tunnel {
        let name = try Validate.name(cluster, "cluster")
        let ms = try Validate.milliseconds(timeout)
        let session = try supervisor.session()
        let loop = session.eventLoop
        let core = session.core
        let promise = loop.makePromise(of: Tunnel.self)
        let token = CancellationToken()
        return try await withTaskCancellationHandler {
            loop.execute { core.value.openTunnel(cluster: name, milliseconds: ms, token: token, promise: promise) }
            return try await promise.futureResult.get()
        } onCancel: {
            token.cancel()
            loop.execute { core.value.cancelTunnel(token) }
        }
    }

    // MARK: Close

    /// Graceful close: sends CLOSE and waits for the relay's CLOSE (at most
    /// `Defaults.closeBound`); stops reconnecting. Pending requests, tunnel constructions and
    /// tunnel operations fail with `.closed`; subscriptions end normally. Throws if the
    /// connection ended otherwise (e.g. `.connectionLost` after reconnect gave up).
    public func close() async throws {
        try await supervisor.close()
    }

    /// Sends a packet without an answer. While the socket is writable and fewer than
    /// `Outbox.capacity` such packets wait for the event loop, this does not wait for the loop:
    /// the packet joins the outbox, which the loop drains in one task per batch (packets keep
    /// their order, also relative to later calls: see `Outbox`). Otherwise the call waits for the
    /// loop, which bounds the memory a sender that outruns the loop or the relay can pile up.
    private func fireAndForget(_ packet: ClientPacket) async throws {
        let session = try supervisor.session()
        if let error = session.endedError.withLockedValue({ $0 }) { throw error }
        if session.channel.isWritable {
            switch session.outbox.admit(packet) {
            case .queued:
                return
            case .scheduleDrain:
                session.execute { $0.drainOutbox() }
                return
            case .full:
                break
            }
        }
        // Earlier packets still in the outbox go first.
        try await session.perform { core in
            core.drainOutbox()
            try core.send(packet)
        }
    }
}
