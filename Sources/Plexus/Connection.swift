import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PlexusWire

/// One connection to the local relay (relay protocol v1.0-draft2): a plain client
/// (`connect`) or a service registered in a cluster (`register`).
///
/// All protocol state lives on the connection's NIO event loop; calls hop there and wait on
/// promises completed from the loop. The type is safe to share between tasks.
public final class Connection: Sendable {
    let core: NIOLoopBound<ConnectionCore>
    let channel: any Channel
    var eventLoop: any EventLoop { channel.eventLoop }

    let endedReason: NIOLockedValueBox<String?>
    /// Fire-and-forget packets handed to the event loop and not yet written.
    private let outbox: Outbox

    private init(core: NIOLoopBound<ConnectionCore>, channel: any Channel, endedReason: NIOLockedValueBox<String?>, outbox: Outbox) {
        self.core = core
        self.channel = channel
        self.endedReason = endedReason
        self.outbox = outbox
    }

    /// Connects as a plain client.
    public static func connect(
        host: String = "127.0.0.1",
        port: Int = WireConstants.defaultPort,
        logger: Logger = Logger(label: "plexus")
    ) async throws -> Connection {
        try await open(cluster: "", service: nil, host: host, port: port, logger: logger)
    }

    /// Registers a service: a connection that is a member of `cluster` and whose `handler`
    /// receives requests, broadcasts and inbound tunnels, within `limits`.
    public static func register(
        cluster: String,
        handler: some ServiceHandler,
        limits: ServiceLimits = .init(),
        host: String = "127.0.0.1",
        port: Int = WireConstants.defaultPort,
        logger: Logger = Logger(label: "plexus")
    ) async throws -> Connection {
        guard !cluster.isEmpty else { throw PlexusError.invalidArgument("empty cluster name") }
        let service = ServiceDispatch(
            handler: handler,
            requests: WorkQueue(limitBytes: Defaults.memory(limits.requestMemoryBytes)),
            broadcasts: WorkQueue(limitBytes: Defaults.memory(limits.broadcastMemoryBytes)))
        let connection = try await open(cluster: cluster, service: service, host: host, port: port, logger: logger)
        startWorkers(service: service, limits: limits, connection: connection)
        return connection
    }

    private static func startWorkers(service: ServiceDispatch, limits: ServiceLimits, connection: Connection) {
        let handler = service.handler
        let core = connection.core
        let loop = connection.eventLoop
        let outbox = connection.outbox
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
                    // Replies ride the outbox too: workers finishing together cost one loop task.
                    let reply = ClientPacket.reply(id: request.id, outcome: outcome)
                    switch outbox.admit(reply) {
                    case .queued: break
                    case .scheduleDrain: loop.execute { core.value.drainOutbox() }
                    case .full: loop.execute { core.value.reply(id: request.id, outcome: outcome) }
                    }
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

    private static func open(cluster: String, service: ServiceDispatch?, host: String, port: Int, logger: Logger) async throws -> Connection {
        let group = MultiThreadedEventLoopGroup.singleton
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: port)
                .get()
        } catch {
            throw PlexusError.connectionFailed("\(host):\(port): \(error)")
        }
        let loop = channel.eventLoop
        let handshake = loop.makePromise(of: Void.self)
        let core: NIOLoopBound<ConnectionCore>
        let endedReason: NIOLockedValueBox<String?>
        let outbox: Outbox
        do {
            (core, endedReason, outbox) = try await loop.submit {
                let core = ConnectionCore(eventLoop: loop, cluster: cluster, service: service, logger: logger, handshake: handshake)
                let bound = NIOLoopBound(core, eventLoop: loop)
                core.selfBound = bound
                try channel.pipeline.syncOperations.addHandlers([
                    ByteToMessageHandler(RelayPacketDecoder()), core,
                ])
                if !channel.isActive {
                    handshake.fail(PlexusError.connectionFailed("connection closed before the handshake"))
                } else {
                    core.sendHandshake()
                }
                return (bound, core.endedReason, core.outbox)
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
            service?.requests.finish()
            service?.broadcasts.finish()
            throw error
        }
        return Connection(core: core, channel: channel, endedReason: endedReason, outbox: outbox)
    }

    // MARK: Request / reply

    /// Sends a request to one member of `cluster` and waits for its reply.
    ///
    /// Throws `.remoteFault(text)` if the handler failed, `.timedOut` if the relay reported a
    /// timeout (or, defensively, nothing came within timeout + `Defaults.answerGrace`),
    /// `.closed` if the connection ended first, `.invalidArgument` for bad arguments.
    public func request(_ request: ByteBuffer, to cluster: String, timeout: Duration) async throws -> ByteBuffer {
        let name = try Validate.name(cluster, "cluster")
        try Validate.payload(request, "request")
        let ms = try Validate.milliseconds(timeout)
        let core = self.core
        let loop = eventLoop
        return try await withUnsafeThrowingContinuation { continuation in
            loop.execute { core.value.request(cluster: name, payload: request, milliseconds: ms, continuation: continuation) }
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

    /// Subscribes to `topic`; the events arrive, in order, through the returned sequence.
    /// Throws `.invalidArgument` if already subscribed (nothing is sent then).
    public func subscribe(to topic: String, limits: SubscriptionLimits = .init()) async throws -> Subscription {
        let name = try Validate.name(topic, "topic")
        let queue = WorkQueue<ByteBuffer>(limitBytes: Defaults.memory(limits.eventMemoryBytes))
        try await perform { core in try core.subscribe(topic: name, queue: queue) }
        return Subscription(topic: topic, queue: queue)
    }

    /// Subscribes to `topic`; `handler` runs for each event, at most
    /// `limits.eventConcurrency` at a time, started in arrival order.
    public func subscribe(
        to topic: String,
        limits: SubscriptionLimits = .init(),
        handler: @escaping @Sendable (ByteBuffer) async -> Void
    ) async throws {
        let name = try Validate.name(topic, "topic")
        let queue = WorkQueue<ByteBuffer>(limitBytes: Defaults.memory(limits.eventMemoryBytes))
        try await perform { core in try core.subscribe(topic: name, queue: queue) }
        for _ in 0..<Defaults.concurrency(limits.eventConcurrency) {
            Task {
                while let event = await queue.take() { await handler(event) }
            }
        }
    }

    /// Unsubscribes from `topic`. Throws `.invalidArgument` if not subscribed (nothing is sent).
    public func unsubscribe(from topic: String) async throws {
        let name = try Validate.name(topic, "topic")
        try await perform { core in try core.unsubscribe(topic: name) }
    }

    // MARK: Tunnels

    /// Opens a tunnel to one member of `cluster`. Throws `.timedOut` if the relay could not
    /// build it within `timeout` (e.g. the cluster has no member).
    public func tunnel(to cluster: String, timeout: Duration) async throws -> Tunnel {
        let name = try Validate.name(cluster, "cluster")
        let ms = try Validate.milliseconds(timeout)
        let promise = eventLoop.makePromise(of: Tunnel.self)
        let core = self.core
        eventLoop.execute { core.value.openTunnel(cluster: name, milliseconds: ms, promise: promise) }
        return try await promise.futureResult.get()
    }

    // MARK: Close

    /// Graceful close (spec §10.1): sends CLOSE and waits for the relay's CLOSE (at most
    /// `Defaults.closeBound`). Pending requests, tunnel constructions and tunnel operations
    /// fail with `.closed`. Throws `.closed(reason:)` if the connection ended in a drop instead.
    public func close() async throws {
        let promise = eventLoop.makePromise(of: Void.self)
        let core = self.core
        eventLoop.execute { core.value.close(promise: promise) }
        try await promise.futureResult.get()
    }

    /// Sends a packet without an answer. While the socket is writable and fewer than
    /// `Outbox.capacity` such packets wait for the event loop, this does not wait for the loop:
    /// the packet joins the outbox, which the loop drains in one task per batch (packets keep
    /// their order, also relative to later calls: see `Outbox`). Otherwise the call waits for the
    /// loop, which bounds the memory a sender that outruns the loop or the relay can pile up.
    private func fireAndForget(_ packet: ClientPacket) async throws {
        if let reason = endedReason.withLockedValue({ $0 }) { throw PlexusError.closed(reason: reason) }
        if channel.isWritable {
            switch outbox.admit(packet) {
            case .queued:
                return
            case .scheduleDrain:
                let core = self.core
                eventLoop.execute { core.value.drainOutbox() }
                return
            case .full:
                break
            }
        }
        // Earlier packets still in the outbox go first.
        try await perform { core in
            core.drainOutbox()
            try core.send(packet)
        }
    }

    private func perform(_ body: @escaping @Sendable (ConnectionCore) throws -> Void) async throws {
        let core = self.core
        try await eventLoop.submit { try body(core.value) }.get()
    }
}
