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

/// The service side of a connection: the handler and its two limited queues (spec §11).
struct ServiceDispatch: Sendable {
    let handler: any ServiceHandler
    let requests: WorkQueue<InboundRequest>
    let broadcasts: WorkQueue<ByteBuffer>
}

/// All state of one relay connection. Lives on the connection's event loop: it is the channel
/// handler after the packet decoder, and every public call hops here with `execute`/`submit`.
/// No locks, no actors; async callers wait on `EventLoopPromise`s this object completes.
final class ConnectionCore: ChannelInboundHandler {
    typealias InboundIn = RelayPacket
    typealias OutboundOut = ByteBuffer

    private enum State {
        case handshaking(EventLoopPromise<Void>)
        case open
        /// CLOSE sent; waiting for the relay's CLOSE.
        case closing
        case closed(PlexusError)
    }

    /// A request waiting for its REPLY. The caller's task waits on the continuation directly (no
    /// promise, no future callback); one connection-wide timer enforces the local deadlines.
    private struct PendingRequest {
        var continuation: UnsafeContinuation<ByteBuffer, any Error>
        var deadline: NIODeadline
        var cluster: ByteBuffer
    }

    private struct PendingTunnel {
        var promise: EventLoopPromise<Tunnel>
        var timer: Scheduled<Void>?
    }

    let eventLoop: any EventLoop
    let logger: Logger
    let service: ServiceDispatch?
    /// Which relay connection of its `Connection` this is (1, 2, … after reconnects).
    let generation: UInt64
    private let cluster: String
    /// Told once when an open connection ends (not when the handshake fails: the opener is).
    private var onEnded: (@Sendable (SessionEnding) -> Void)?
    private var context: ChannelHandlerContext?
    private var state: State
    private var closeWaiters: [EventLoopPromise<Void>] = []
    private var closeTimer: Scheduled<Void>?

    // Output coalescing: packets are encoded into one buffer and flushed once per batch.
    private var output: ByteBuffer
    private var flushScheduled = false
    private var inRead = false
    /// Queues with an item for a waiting consumer, woken once at the end of the read burst.
    private var pendingWakes: [any Wakeable] = []

    private var nextRequestID: UInt64 = 0
    private var requests: [UInt64: PendingRequest] = [:]
    /// The one timer for the local request deadlines, armed for the earliest one it knows.
    private var requestTimer: Scheduled<Void>?
    private var requestTimerDeadline: NIODeadline?
    private var nextTunnelID: UInt64 = 0
    private var tunnelInits: [UInt64: PendingTunnel] = [:]
    private(set) var tunnels: [UInt64: TunnelCore] = [:]
    private var subscriptions: [ByteBuffer: WorkQueue<ByteBuffer>] = [:]
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
        self.cluster = cluster
        self.service = service
        self.generation = generation
        self.onEnded = onEnded
        self.logger = logger
        self.state = .handshaking(handshake)
        self.output = ByteBuffer()
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        output = context.channel.allocator.buffer(capacity: 256)
    }

    func sendHandshake() {
        write(.initiate(version: ByteBuffer(string: WireConstants.protocolVersion), cluster: ByteBuffer(string: cluster)), force: true)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inRead = true
        handle(unwrapInboundIn(data))
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
        terminate(.lost("end of stream without CLOSE"))
        self.context = nil
        selfBound = nil  // breaks the core → bound → core cycle
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let text = String(describing: error)
        logger.warning("relay connection error, closing", metadata: ["error": "\(text)"])
        terminate(.lost("protocol violation: \(text)"), handshakeError: .protocolViolation(text))
        context.close(promise: nil)
    }

    // MARK: Inbound packets

    private func handle(_ packet: RelayPacket) {
        if case .handshaking(let promise) = state {
            switch packet {
            case .accept:
                state = .open
                promise.succeed()
            case .deny(let reason):
                let text = String(buffer: reason)
                terminate(.lost("denied: \(text)"), handshakeError: .refused(reason: text))
                context?.close(promise: nil)
            default:
                violation("expected INIT or DENY during the handshake, got \(packet)")
            }
            return
        }
        if case .closed = state { return }
        switch packet {
        case .accept, .deny:
            violation("INIT/DENY after the handshake")
        case .close(let reason):
            let text = String(buffer: reason)
            if case .closing = state {
                terminate(text.isEmpty ? .closedLocally : .lost("the relay closed the connection: \(text)"))
            } else {
                terminate(.lost(text.isEmpty ? "the relay closed the connection" : "the relay closed the connection: \(text)"))
            }
            context?.close(promise: nil)
        case .broadcast(let message):
            guard let service else { return violation("BROADCAST delivered to a plain client") }
            if !deliver(message, bytes: message.readableBytes, to: service.broadcasts) {
                logger.debug("broadcast dropped by the memory limit", metadata: ["bytes": "\(message.readableBytes)"])
            }
        case .request(let id, let payload, let timeoutMilliseconds):
            guard let service else { return violation("REQUEST delivered to a plain client") }
            let ms = Int64(clamping: min(timeoutMilliseconds, 2_147_483_647))
            let request = InboundRequest(id: id, payload: payload, expiry: .now() + .milliseconds(ms), generation: generation)
            if !deliver(request, bytes: payload.readableBytes, to: service.requests) {
                logger.debug("request dropped by the memory limit", metadata: ["bytes": "\(payload.readableBytes)"])
            }
        case .reply(let id, let result):
            guard let pending = requests.removeValue(forKey: id) else {
                logger.debug("ignoring REPLY for an id not pending", metadata: ["id": "\(id)"])
                return
            }
            switch result {
            case .success(let reply): pending.continuation.resume(returning: reply)
            case .fault(let fault):
                pending.continuation.resume(throwing: PlexusError.forFault(String(buffer: fault), cluster: String(buffer: pending.cluster)))
            case .timedOut: pending.continuation.resume(throwing: PlexusError.timedOut)
            }
        case .publish(let topic, let event):
            guard let queue = subscriptions[topic] else { return }
            if !deliver(event, bytes: event.readableBytes, to: queue) {
                logger.debug("event dropped by the memory limit", metadata: ["bytes": "\(event.readableBytes)"])
            }
        case .tunnelOffer(let buildID, let chunkLimit):
            guard let service else { return violation("TUN_INIT offered to a plain client") }
            guard chunkLimit >= 1 else { return violation("tunnel offer with chunk limit 0") }
            let id = nextTunnelID
            nextTunnelID &+= 1
            let tunnel = TunnelCore(id: id, chunkLimit: chunkLimit, connection: self)
            tunnels[id] = tunnel
            write(.tunnelConfirm(buildID: buildID, tunnelID: id))
            write(.tunnelAllow(id: id, allowance: UInt64(WireConstants.bindingTunnelBuffer)))
            let handle = Tunnel(core: NIOLoopBound(tunnel, eventLoop: eventLoop), eventLoop: eventLoop)
            let handler = service.handler
            Task { await handler.handleTunnel(handle) }
        case .tunnelResult(let id, let chunkLimit):
            guard let pending = tunnelInits.removeValue(forKey: id) else {
                if chunkLimit != nil {
                    // Our local timer gave up already: release the relay's end.
                    write(.tunnelClose(id: id))
                }
                return
            }
            pending.timer?.cancel()
            guard let chunkLimit else { return pending.promise.fail(PlexusError.timedOut) }
            guard chunkLimit >= 1 else {
                pending.promise.fail(PlexusError.protocolViolation("tunnel result with chunk limit 0"))
                return violation("tunnel result with chunk limit 0")
            }
            let tunnel = TunnelCore(id: id, chunkLimit: chunkLimit, connection: self)
            tunnels[id] = tunnel
            write(.tunnelAllow(id: id, allowance: UInt64(WireConstants.bindingTunnelBuffer)))
            pending.promise.succeed(Tunnel(core: NIOLoopBound(tunnel, eventLoop: eventLoop), eventLoop: eventLoop))
        case .tunnelAllow(let id, let allowance):
            tunnels[id]?.allow(allowance)
        case .tunnelTransfer(let id, let size, let chunk):
            tunnels[id]?.receiveChunk(size: size, chunk: chunk)
        case .tunnelClose(let id, let reason):
            tunnels.removeValue(forKey: id)?.remoteClosed(reason: String(buffer: reason))
        }
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

    private func violation(_ text: String) {
        logger.warning("relay protocol violation, closing", metadata: ["detail": "\(text)"])
        terminate(.lost("protocol violation: \(text)"), handshakeError: .protocolViolation(text))
        context?.close(promise: nil)
    }

    // MARK: Output

    /// Encodes a packet into the batch; flushed at the end of the read burst or event-loop tick.
    func write(_ packet: ClientPacket, force: Bool = false) {
        guard context != nil else { return }
        switch state {
        case .open: break
        case .handshaking: guard force else { return }
        case .closing, .closed: return   // nothing may follow our CLOSE
        }
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

    private var isOpen: Bool {
        if case .open = state { return true }
        return false
    }

    /// What an operation on a connection that is no longer open fails with.
    var closedError: PlexusError {
        switch state {
        case .closed(let error): error
        case .closing: .closed(reason: "connection closing")
        default: .closed(reason: "connection closed")
        }
    }

    func request(cluster: ByteBuffer, payload: ByteBuffer, milliseconds: UInt64, token: CancellationToken,
                 continuation: UnsafeContinuation<ByteBuffer, any Error>) {
        guard !token.isCancelled else { return continuation.resume(throwing: CancellationError()) }
        guard isOpen else { return continuation.resume(throwing: closedError) }
        let id = nextRequestID
        nextRequestID &+= 1
        token.operationID = id
        let deadline = NIODeadline.now() + .milliseconds(Int64(milliseconds)) + Validate.timeAmount(Defaults.answerGrace)
        requests[id] = PendingRequest(continuation: continuation, deadline: deadline, cluster: cluster)
        armRequestTimer(for: deadline)
        write(.request(id: id, cluster: cluster, payload: payload, timeoutMilliseconds: milliseconds))
    }

    /// The caller's task was cancelled: its request ends now; a late REPLY is ignored.
    func cancelRequest(_ token: CancellationToken) {
        guard let id = token.operationID, let pending = requests.removeValue(forKey: id) else { return }
        pending.continuation.resume(throwing: CancellationError())
    }

    /// Makes sure the request timer fires no later than `deadline`. Answered requests leave the
    /// timer alone (no cancel per reply); when it fires it fails what expired and re-arms for
    /// the earliest deadline still pending.
    private func armRequestTimer(for deadline: NIODeadline) {
        if let current = requestTimerDeadline, current <= deadline { return }
        requestTimer?.cancel()
        requestTimerDeadline = deadline
        requestTimer = eventLoop.scheduleTask(deadline: deadline) { [selfBound] in
            selfBound?.value.expireRequests()
        }
    }

    private func expireRequests() {
        requestTimer = nil
        requestTimerDeadline = nil
        let now = NIODeadline.now()
        var expired: [UInt64] = []
        var next: NIODeadline?
        for (id, pending) in requests {
            if pending.deadline <= now {
                expired.append(id)
            } else if next.map({ pending.deadline < $0 }) ?? true {
                next = pending.deadline
            }
        }
        for id in expired.sorted() {
            guard let pending = requests.removeValue(forKey: id) else { continue }
            logger.debug("request timed out locally without the relay's REPLY", metadata: ["id": "\(id)"])
            pending.continuation.resume(throwing: PlexusError.timedOut)
        }
        if let next { armRequestTimer(for: next) }
    }

    func reply(id: UInt64, outcome: ReplyOutcome) {
        write(.reply(id: id, outcome: outcome))
    }

    func send(_ packet: ClientPacket) throws(PlexusError) {
        guard isOpen else { throw closedError }
        write(packet)
    }

    /// Writes every packet waiting in the outbox (dropped once the connection is no longer open,
    /// as a fire-and-forget send to a closed connection is).
    func drainOutbox() {
        outbox.drain(into: &outboxBatch)
        if isOpen {
            for packet in outboxBatch { write(packet) }
        }
        outboxBatch.removeAll(keepingCapacity: true)
    }

    /// Sends SUBSCRIBE for `topic` unless this connection already delivers it to `queue`
    /// (idempotent: a reconnect's restore and a concurrent subscribe may both ask). The
    /// `Connection` owns the list of subscriptions; this is only the wire side.
    func subscribe(topic: ByteBuffer, queue: WorkQueue<ByteBuffer>) {
        guard isOpen, subscriptions[topic] !== queue else { return }
        subscriptions[topic] = queue
        write(.subscribe(topic: topic))
    }

    /// Subscribes every topic of `all` (after a reconnect's handshake).
    func restore(subscriptions all: [String: WorkQueue<ByteBuffer>]) {
        for (topic, queue) in all.sorted(by: { $0.key < $1.key }) { subscribe(topic: ByteBuffer(string: topic), queue: queue) }
    }

    /// Sends UNSUBSCRIBE if `topic` is delivered to `queue` here.
    func unsubscribe(topic: ByteBuffer, queue: WorkQueue<ByteBuffer>) {
        guard isOpen, subscriptions[topic] === queue else { return }
        subscriptions.removeValue(forKey: topic)
        write(.unsubscribe(topic: topic))
    }

    func openTunnel(cluster: ByteBuffer, milliseconds: UInt64, token: CancellationToken, promise: EventLoopPromise<Tunnel>) {
        guard !token.isCancelled else { return promise.fail(CancellationError()) }
        guard isOpen else { return promise.fail(closedError) }
        let id = nextTunnelID
        nextTunnelID &+= 1
        token.operationID = id
        let timer = eventLoop.scheduleTask(in: .milliseconds(Int64(milliseconds)) + Validate.timeAmount(Defaults.answerGrace)) { [selfBound] in
            guard let core = selfBound?.value, let pending = core.tunnelInits.removeValue(forKey: id) else { return }
            pending.promise.fail(PlexusError.timedOut)
        }
        tunnelInits[id] = PendingTunnel(promise: promise, timer: timer)
        write(.tunnelInit(id: id, cluster: cluster, timeoutMilliseconds: milliseconds))
    }

    /// The caller's task was cancelled: the construction ends now; a late successful
    /// TUN_CONFIRM is answered with TUN_CLOSE (see `.tunnelResult`).
    func cancelTunnel(_ token: CancellationToken) {
        guard let id = token.operationID, let pending = tunnelInits.removeValue(forKey: id) else { return }
        pending.timer?.cancel()
        pending.promise.fail(CancellationError())
    }

    func forgetTunnel(id: UInt64) {
        tunnels.removeValue(forKey: id)
    }

    /// Graceful close (spec §10.1): CLOSE, then wait (bounded) for the relay's CLOSE.
    func close(promise: EventLoopPromise<Void>) {
        switch state {
        case .closed(let error):
            if error == Ending.closedLocally.error { promise.succeed() } else { promise.fail(error) }
            return
        case .closing:
            closeWaiters.append(promise)
            return
        case .handshaking:
            closeWaiters.append(promise)
            terminate(.closedLocally, handshakeError: .closed(reason: "closed during the handshake"))
            context?.close(promise: nil)
            return
        case .open:
            break
        }
        closeWaiters.append(promise)
        output.writeClientPacket(.close)
        flushNow()
        state = .closing
        endedError.withLockedValue { $0 = .closed(reason: "connection closing") }
        closeTimer = eventLoop.scheduleTask(in: Validate.timeAmount(Defaults.closeBound)) { [selfBound] in
            guard let core = selfBound?.value else { return }
            core.terminate(.lost("no CLOSE from the relay within \(Defaults.closeBound)"))
            core.context?.close(promise: nil)
        }
    }

    /// The `Connection` was released without `close()`: CLOSE goes out, then the socket is
    /// closed at once (no wait for the relay's answer).
    func abandon() {
        if case .open = state {
            output.writeClientPacket(.close)
            flushNow()
        }
        terminate(Ending(error: .closed(reason: "connection released without close()"), byLocalClose: true))
        context?.close(promise: nil)
    }

    /// How `terminate` ends the connection.
    struct Ending {
        var error: PlexusError
        var byLocalClose: Bool

        static let closedLocally = Ending(error: .closed(reason: "connection closed"), byLocalClose: true)
        static func lost(_ reason: String) -> Ending { Ending(error: .connectionLost(reason: reason), byLocalClose: false) }
    }

    /// Ends the connection exactly once: fails every pending operation, closes tunnels,
    /// completes `close()` waiters, reports a loss to the service and the ending to the owner
    /// (which keeps or ends the subscriptions and the service's queues).
    private func terminate(_ ending: Ending, handshakeError: PlexusError? = nil) {
        let previous = state
        if case .closed = previous { return }
        let closedError = ending.error
        // Whatever ends a connection we were closing ends it as the application asked.
        var ending = ending
        if case .closing = previous { ending.byLocalClose = true }
        state = .closed(closedError)
        endedError.withLockedValue { $0 = closedError }
        closeTimer?.cancel()
        if case .handshaking(let promise) = previous {
            promise.fail(handshakeError ?? .connectionFailed("\(closedError)"))
        }
        requestTimer?.cancel()
        requestTimer = nil
        requestTimerDeadline = nil
        for (_, pending) in requests {
            pending.continuation.resume(throwing: closedError)
        }
        requests.removeAll()
        for (_, pending) in tunnelInits {
            pending.timer?.cancel()
            pending.promise.fail(closedError)
        }
        tunnelInits.removeAll()
        let open = tunnels
        tunnels.removeAll()
        for (_, tunnel) in open { tunnel.connectionClosed(error: closedError) }
        subscriptions.removeAll()
        let waiters = closeWaiters
        closeWaiters.removeAll()
        for waiter in waiters {
            if ending.byLocalClose && closedError == Ending.closedLocally.error { waiter.succeed() } else { waiter.fail(closedError) }
        }
        if case .handshaking = previous { return }
        let notify = onEnded
        onEnded = nil  // breaks the owner → core → callback cycle
        notify?(SessionEnding(error: closedError, byLocalClose: ending.byLocalClose))
        // The service hears of every loss, also one that cut a `close()` short.
        if case .connectionLost(let reason) = closedError, let service {
            let handler = service.handler
            logger.info("relay connection lost", metadata: ["reason": "\(reason)"])
            Task { await handler.handleDrop(reason: reason) }
        }
    }
}
