import DequeModule
import NIOConcurrencyHelpers
import Logging
import NIOCore
import PlexusWire

/// A request delivered to this service, waiting for a request worker.
struct InboundRequest: Sendable {
    var id: UInt64
    var payload: ByteBuffer
    var expiry: NIODeadline
    /// The relay connection it came on (its id means nothing on a later one).
    var generation: UInt64
}

/// How a relay connection ended, reported once to its owner.
struct SessionEnding: Sendable {
    /// What pending and later operations of this connection failed with.
    var error: PlexusError
    /// The application closed it (`close()` or release); otherwise it was lost.
    var byLocalClose: Bool
}

/// The service side of a connection: the handler and its two limited queues.
struct ServiceDispatch: Sendable {
    let handler: any ServiceHandler
    let requests: WorkQueue<InboundRequest>
    let broadcasts: WorkQueue<ByteBuffer>
}

/// One relay connection on its event loop: the channel handler after the packet decoder. It
/// feeds packets, calls and timer ticks to the pure `ConnectionMachine` and carries out what
/// it decides: completes the waiting callers, fills the queues, writes packets (coalesced,
/// one flush per batch), closes the socket. Every public call hops here with
/// `execute`/`submit`; no locks, no actors.
final class ConnectionCore: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let eventLoop: any EventLoop
    let logger: Logger
    let service: ServiceDispatch?
    /// Which relay connection of its `Connection` this is (1, 2, … after reconnects).
    let generation: UInt64
    private var machine: ConnectionMachine
    private var handshake: EventLoopPromise<Void>?
    /// Told once when an open connection ends (not when the handshake fails: the opener is).
    private var onEnded: (@Sendable (SessionEnding) -> Void)?
    private var context: ChannelHandlerContext?
    /// The relay's bytes not yet decoded; packets are decoded here (no `ByteToMessageHandler`).
    private var input = InboundCumulation()
    private var inputFailed = false
    private var closeWaiters: [EventLoopPromise<Void>] = []

    // Output coalescing: packets are encoded into one buffer and flushed once per batch.
    private var output: ByteBuffer
    private var flushScheduled = false
    private var inRead = false
    /// Queues with an item for a waiting consumer, woken once at the end of the read burst.
    private var pendingWakes: [any Wakeable] = []

    /// Callers waiting for a REPLY, by request id. They wait on the continuation directly (no
    /// promise, no future callback).
    private var requestWaiters: [UInt64: UnsafeContinuation<ByteBuffer, any Error>] = [:]
    private var tunnelWaiters: [UInt64: EventLoopPromise<Tunnel>] = [:]
    private(set) var tunnels: [UInt64: TunnelCore] = [:]
    private var subscriptions: [ByteBuffer: WorkQueue<ByteBuffer>] = [:]
    /// The one timer for the machine's deadlines, armed for the earliest one it knows.
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    /// Why the connection stopped accepting operations (nil while open); readable from any thread
    /// so fire-and-forget calls can fail fast without a hop to the event loop.
    let endedError = NIOLockedValueBox<PlexusError?>(nil)
    /// Fire-and-forget packets from caller tasks, drained here once per batch.
    let outbox = Outbox()
    private var outboxBatch: [ClientPacket] = []
    /// Set once the core is published inside `NIOLoopBound`; used to hand out references.
    var selfBound: NIOLoopBound<ConnectionCore>?

    init(eventLoop: any EventLoop, cluster: String, service: ServiceDispatch?, generation: UInt64, logger: Logger,
         handshake: EventLoopPromise<Void>, onEnded: @escaping @Sendable (SessionEnding) -> Void) {
        self.eventLoop = eventLoop
        self.service = service
        self.generation = generation
        self.onEnded = onEnded
        self.logger = logger
        self.handshake = handshake
        self.machine = ConnectionMachine(cluster: cluster, isService: service != nil,
                                         answerGrace: Validate.timeAmount(Defaults.answerGrace), closeBound: Defaults.closeBound)
        self.output = ByteBuffer()
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        output = context.channel.allocator.buffer(capacity: 256)
    }

    func sendHandshake() {
        output.writeClientPacket(machine.handshake())
        flushNow()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !inputFailed else { return }
        inRead = true
        input.append(unwrapInboundIn(data))
        do {
            while let packet = try input.nextRelayPacket(limits: .default) { handle(packet) }
            input.readComplete()
        } catch {
            inputFailed = true
            input.discard()
            errorCaught(context: context, error: error)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inRead = false
        if !pendingWakes.isEmpty {
            let wakes = pendingWakes
            pendingWakes.removeAll(keepingCapacity: true)
            for queue in wakes { queue.wake() }
        }
        flushNow()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let termination = machine.channelClosed() { carryOut(termination) }
        self.context = nil
        selfBound = nil  // breaks the core → bound → core cycle
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let text = String(describing: error)
        logger.warning("relay connection error, closing", metadata: ["error": "\(text)"])
        if let termination = machine.failed(text) { carryOut(termination) }
        context.close(promise: nil)
    }

    // MARK: Inbound packets

    private func handle(_ packet: RelayPacket) {
        switch machine.receive(packet) {
        case .ignore:
            break
        case .handshakeAccepted:
            handshake?.succeed()
            handshake = nil
        case .deliverBroadcast(let message):
            guard let service else { return }
            if !deliver(message, bytes: message.readableBytes, to: service.broadcasts) {
                logger.debug("broadcast dropped by the memory limit", metadata: ["bytes": "\(message.readableBytes)"])
            }
        case .deliverRequest(let id, let payload, let timeoutMilliseconds):
            guard let service else { return }
            let ms = Int64(clamping: min(timeoutMilliseconds, 2_147_483_647))
            let request = InboundRequest(id: id, payload: payload, expiry: .now() + .milliseconds(ms), generation: generation)
            if !deliver(request, bytes: payload.readableBytes, to: service.requests) {
                logger.debug("request dropped by the memory limit", metadata: ["bytes": "\(payload.readableBytes)"])
            }
        case .deliverEvent(let topic, let event):
            guard let queue = subscriptions[topic] else { return }
            if !deliver(event, bytes: event.readableBytes, to: queue) {
                logger.debug("event dropped by the memory limit", metadata: ["bytes": "\(event.readableBytes)"])
            }
        case .completeRequest(let id, let result):
            guard let waiter = requestWaiters.removeValue(forKey: id) else { return }
            waiter.resume(with: result.mapError { $0 as any Error })
        case .tunnelOffered(let id, let chunkLimit, let confirm, let allow):
            guard let service else { return }
            write(confirm)
            write(allow)
            let handle = adopt(tunnel: id, chunkLimit: chunkLimit)
            let handler = service.handler
            Task { await handler.handleTunnel(handle) }
        case .tunnelBuilt(let id, let chunkLimit, let allow):
            write(allow)
            let handle = adopt(tunnel: id, chunkLimit: chunkLimit)
            tunnelWaiters.removeValue(forKey: id)?.succeed(handle)
        case .tunnelRefused(let id, let error):
            tunnelWaiters.removeValue(forKey: id)?.fail(error)
        case .write(let packet):
            write(packet)
        case .tunnelAllow(let id, let bytes):
            tunnels[id]?.allow(bytes)
        case .tunnelTransfer(let id, let size, let chunk):
            tunnels[id]?.receiveChunk(size: size, chunk: chunk)
        case .tunnelClosed(let id, let reason):
            tunnels.removeValue(forKey: id)?.remoteClosed(reason: reason)
        case .end(let termination):
            if case .connectionLost(let reason) = termination.ending.error, reason.hasPrefix("protocol violation") {
                logger.warning("relay protocol violation, closing", metadata: ["detail": "\(reason)"])
            }
            carryOut(termination)
            context?.close(promise: nil)
        }
    }

    private func adopt(tunnel id: UInt64, chunkLimit: UInt64) -> Tunnel {
        let tunnel = TunnelCore(id: id, chunkLimit: chunkLimit, connection: self)
        tunnels[id] = tunnel
        return Tunnel(core: NIOLoopBound(tunnel, eventLoop: eventLoop), eventLoop: eventLoop)
    }

    /// Queues an inbound message; a waiting consumer is woken at the end of the read burst.
    private func deliver<Item>(_ item: Item, bytes: Int, to queue: WorkQueue<Item>) -> Bool {
        switch queue.enqueue(item, bytes: bytes) {
        case .dropped: return false
        case .queued: return true
        case .wakeDue:
            if inRead { pendingWakes.append(queue) } else { queue.wake() }
            return true
        }
    }

    // MARK: Output

    /// Encodes a packet into the batch; flushed at the end of the read burst or event-loop tick.
    /// Nothing is written unless the connection is open (nothing may follow our CLOSE).
    func write(_ packet: ClientPacket) {
        guard context != nil, machine.isOpen else { return }
        output.writeClientPacket(packet)
        if !inRead && !flushScheduled {
            flushScheduled = true
            eventLoop.execute { [selfBound] in
                guard let core = selfBound?.value else { return }
                core.flushScheduled = false
                core.flushNow()
            }
        }
    }

    private func flushNow() {
        guard output.readableBytes > 0, let context else { return }
        let batch = output
        output = context.channel.allocator.buffer(capacity: 256)
        context.writeAndFlush(wrapOutboundOut(batch), promise: nil)
    }

    /// Flushes right away (used by `send` paths that want their chunks on the wire now).
    func flushIfIdle() {
        if !inRead && !flushScheduled { flushNow() }
    }

    // MARK: Operations (called on the event loop)

    /// What an operation on a connection that is no longer open fails with.
    var closedError: PlexusError { machine.closedError }

    func request(cluster: ByteBuffer, payload: ByteBuffer, milliseconds: UInt64, token: CancellationToken,
                 continuation: UnsafeContinuation<ByteBuffer, any Error>) {
        guard !token.isCancelled else { return continuation.resume(throwing: CancellationError()) }
        switch machine.startRequest(cluster: cluster, payload: payload, milliseconds: milliseconds, now: .now()) {
        case .failure(let error):
            continuation.resume(throwing: error)
        case .success(let started):
            token.operationID = started.id
            requestWaiters[started.id] = continuation
            armTimer(for: started.deadline)
            write(started.packet)
        }
    }

    /// The caller's task was cancelled: its request ends now; a late REPLY is ignored.
    func cancelRequest(_ token: CancellationToken) {
        guard let id = token.operationID, machine.cancelRequest(id: id),
              let waiter = requestWaiters.removeValue(forKey: id) else { return }
        waiter.resume(throwing: CancellationError())
    }

    func reply(id: UInt64, outcome: ReplyOutcome) {
        write(.reply(id: id, outcome: outcome))
    }

    func send(_ packet: ClientPacket) throws(PlexusError) {
        guard machine.isOpen else { throw machine.closedError }
        write(packet)
    }

    /// Writes every packet waiting in the outbox (dropped once the connection is no longer open,
    /// as a fire-and-forget send to a closed connection is).
    func drainOutbox() {
        outbox.drain(into: &outboxBatch)
        for packet in outboxBatch { write(packet) }
        outboxBatch.removeAll(keepingCapacity: true)
    }

    /// Sends SUBSCRIBE for `topic` unless this connection already delivers it to `queue`
    /// (idempotent: a reconnect's restore and a concurrent subscribe may both ask). The
    /// `Connection` owns the list of subscriptions; this is only the wire side.
    func subscribe(topic: ByteBuffer, queue: WorkQueue<ByteBuffer>) {
        guard machine.isOpen, subscriptions[topic] !== queue else { return }
        subscriptions[topic] = queue
        write(.subscribe(topic: topic))
    }

    /// Subscribes every topic of `all` (after a reconnect's handshake).
    func restore(subscriptions all: [String: WorkQueue<ByteBuffer>]) {
        for (topic, queue) in all.sorted(by: { $0.key < $1.key }) { subscribe(topic: ByteBuffer(string: topic), queue: queue) }
    }

    /// Sends UNSUBSCRIBE if `topic` is delivered to `queue` here.
    func unsubscribe(topic: ByteBuffer, queue: WorkQueue<ByteBuffer>) {
        guard machine.isOpen, subscriptions[topic] === queue else { return }
        subscriptions.removeValue(forKey: topic)
        write(.unsubscribe(topic: topic))
    }

    func openTunnel(cluster: ByteBuffer, milliseconds: UInt64, token: CancellationToken, promise: EventLoopPromise<Tunnel>) {
        guard !token.isCancelled else { return promise.fail(CancellationError()) }
        switch machine.startTunnel(cluster: cluster, milliseconds: milliseconds, now: .now()) {
        case .failure(let error):
            promise.fail(error)
        case .success(let started):
            token.operationID = started.id
            tunnelWaiters[started.id] = promise
            armTimer(for: started.deadline)
            write(started.packet)
        }
    }

    /// The caller's task was cancelled: the construction ends now; a late successful
    /// TUN_CONFIRM is answered with TUN_CLOSE (the machine's `.write`).
    func cancelTunnel(_ token: CancellationToken) {
        guard let id = token.operationID, machine.cancelTunnel(id: id) else { return }
        tunnelWaiters.removeValue(forKey: id)?.fail(CancellationError())
    }

    func forgetTunnel(id: UInt64) {
        machine.forgetTunnel(id: id)
        tunnels.removeValue(forKey: id)
    }

    // MARK: Timer

    /// Makes sure the timer fires no later than `deadline`. Answered operations leave the timer
    /// alone (no cancel per reply); when it fires the machine ends what expired and names the
    /// next deadline.
    private func armTimer(for deadline: NIODeadline) {
        if let current = timerDeadline, current <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = eventLoop.scheduleTask(deadline: deadline) { [selfBound] in
            selfBound?.value.timerFired()
        }
    }

    private func timerFired() {
        timer = nil
        timerDeadline = nil
        let expiry = machine.expire(now: .now())
        for id in expiry.timedOutRequests {
            logger.debug("request timed out locally without the relay's REPLY", metadata: ["id": "\(id)"])
            requestWaiters.removeValue(forKey: id)?.resume(throwing: PlexusError.timedOut)
        }
        for id in expiry.timedOutTunnelConstructions {
            tunnelWaiters.removeValue(forKey: id)?.fail(PlexusError.timedOut)
        }
        if let termination = expiry.termination {
            carryOut(termination)
            context?.close(promise: nil)
        }
        if let next = expiry.next { armTimer(for: next) }
    }

    // MARK: Ending

    /// Graceful close: CLOSE, then wait (bounded) for the relay's CLOSE.
    func close(promise: EventLoopPromise<Void>) {
        switch machine.close(now: .now()) {
        case .alreadyClosed(let error):
            if let error { promise.fail(error) } else { promise.succeed() }
        case .wait:
            closeWaiters.append(promise)
        case .end(let termination):
            closeWaiters.append(promise)
            carryOut(termination)
            context?.close(promise: nil)
        case .sendClose(let packet, let deadline):
            closeWaiters.append(promise)
            output.writeClientPacket(packet)
            flushNow()
            endedError.withLockedValue { $0 = machine.closedError }
            armTimer(for: deadline)
        }
    }

    /// The `Connection` was released without `close()`: CLOSE goes out, then the socket is
    /// closed at once (no wait for the relay's answer).
    func abandon() {
        let (packet, termination) = machine.abandon()
        if let packet {
            output.writeClientPacket(packet)
            flushNow()
        }
        if let termination { carryOut(termination) }
        context?.close(promise: nil)
    }

    /// Carries out the end of the connection: fails what was pending, closes tunnels,
    /// completes `close()` waiters, reports a loss to the service and the ending to the owner
    /// (which keeps or ends the subscriptions and the service's queues).
    private func carryOut(_ termination: ConnectionMachine.Termination) {
        let error = termination.ending.error
        endedError.withLockedValue { $0 = error }
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        if let handshakeError = termination.handshakeError {
            handshake?.fail(handshakeError)
            handshake = nil
        }
        for id in termination.failedRequests { requestWaiters.removeValue(forKey: id)?.resume(throwing: error) }
        for id in termination.failedTunnelConstructions { tunnelWaiters.removeValue(forKey: id)?.fail(error) }
        let open = tunnels
        tunnels.removeAll()
        for id in termination.closedTunnels { open[id]?.connectionClosed(error: error) }
        subscriptions.removeAll()
        // The owner first, so that a `close()` that returns finds the connection closed.
        if termination.notifyOwner {
            let notify = onEnded
            onEnded = nil  // breaks the owner → core → callback cycle
            notify?(SessionEnding(error: error, byLocalClose: termination.ending.byLocalClose))
        }
        let waiters = closeWaiters
        closeWaiters.removeAll()
        for waiter in waiters {
            if termination.closeSucceeded { waiter.succeed() } else { waiter.fail(error) }
        }
        if termination.reportLoss, let service, case .connectionLost(let reason) = error {
            let handler = service.handler
            logger.info("relay connection lost", metadata: ["reason": "\(reason)"])
            Task { await handler.handleDrop(reason: reason) }
        }
    }
}
