import DequeModule
import NIOCore
import PlexusWire

/// An ordered, flow-controlled, bidirectional message stream to one member of a cluster.
///
/// Guarantees: messages are non-empty byte strings of any size, delivered whole and in order
/// (the binding chunks and reassembles them); a send waits for the receiver's credit, so a slow
/// receiver slows the sender instead of filling memory. A tunnel does not survive the loss of
/// its connection: its calls then fail with `PlexusError.connectionLost`. All state lives on
/// the connection's event loop.
public final class Tunnel: Sendable {
    let core: NIOLoopBound<TunnelCore>
    let eventLoop: any EventLoop

    init(core: NIOLoopBound<TunnelCore>, eventLoop: any EventLoop) {
        self.core = core
        self.eventLoop = eventLoop
    }

    /// Sends one message, waiting for the relay's allowance before every chunk. `timeout`
    /// bounds the whole send (nil = wait forever); when it passes, the send throws `.timedOut`
    /// and chunks already sent stay sent (the peer discards the partial message). Cancelling
    /// the awaiting task ends the send the same way, with `CancellationError`.
    public func send(_ message: ByteBuffer, timeout: Duration? = nil) async throws {
        try Validate.payload(message, "tunnel message")
        let promise = eventLoop.makePromise(of: Void.self)
        let core = self.core
        let loop = eventLoop
        let token = CancellationToken()
        try await withTaskCancellationHandler {
            loop.execute { core.value.send(message, timeout: timeout, token: token, promise: promise) }
            try await promise.futureResult.get()
        } onCancel: {
            token.cancel()
            loop.execute { core.value.cancelSend(token) }
        }
    }

    public func send(_ message: [UInt8], timeout: Duration? = nil) async throws {
        try await send(ByteBuffer(bytes: message), timeout: timeout)
    }

    public func send(_ message: String, timeout: Duration? = nil) async throws {
        try await send(ByteBuffer(string: message), timeout: timeout)
    }

    /// Receives the next complete message, in order. After the tunnel closed, queued messages
    /// are still returned, then `.closed` is thrown. `timeout` nil = wait forever.
    /// Cancelling the awaiting task ends the wait at once with `CancellationError`; a message
    /// that arrives later stays queued for the next `receive`.
    public func receive(timeout: Duration? = nil) async throws -> ByteBuffer {
        let promise = eventLoop.makePromise(of: ByteBuffer.self)
        let core = self.core
        let loop = eventLoop
        let token = CancellationToken()
        return try await withTaskCancellationHandler {
            loop.execute { core.value.receive(timeout: timeout, token: token, promise: promise) }
            return try await promise.futureResult.get()
        } onCancel: {
            token.cancel()
            loop.execute { core.value.cancelReceive(token) }
        }
    }

    /// Closes the tunnel: TUN_CLOSE, then waits (bounded by `Defaults.closeBound`) for the
    /// relay's TUN_CLOSE. Throws `.closed(reason:)` if the relay closed it with a non-empty reason.
    public func close() async throws {
        let promise = eventLoop.makePromise(of: Void.self)
        let core = self.core
        eventLoop.execute { core.value.close(promise: promise) }
        try await promise.futureResult.get()
    }
}

/// Event-loop state of one tunnel end.
final class TunnelCore {
    private final class SendOperation {
        let number: UInt64
        var remaining: ByteBuffer
        let total: UInt64
        var started = false
        let promise: EventLoopPromise<Void>
        var timer: Scheduled<Void>?

        init(number: UInt64, message: ByteBuffer, promise: EventLoopPromise<Void>) {
            self.number = number
            self.remaining = message
            self.total = UInt64(message.readableBytes)
            self.promise = promise
        }
    }

    private final class ReceiveOperation {
        let number: UInt64
        let promise: EventLoopPromise<ByteBuffer>
        var timer: Scheduled<Void>?
        init(number: UInt64, promise: EventLoopPromise<ByteBuffer>) {
            self.number = number
            self.promise = promise
        }
    }

    let id: UInt64
    let chunkLimit: Int
    private let connection: ConnectionCore
    private var eventLoop: any EventLoop { connection.eventLoop }

    /// Credit for our outbound chunks (relay grants minus chunks sent).
    private(set) var allowance: Int64 = 0
    private var sends: Deque<SendOperation> = []
    private var nextSendNumber: UInt64 = 0
    private var messages: Deque<ByteBuffer> = []
    private var receivers: Deque<ReceiveOperation> = []
    private var nextReceiveNumber: UInt64 = 0
    private var partial: ByteBuffer?
    private var partialSize = 0
    /// Set when the tunnel is finished: the reason (empty = graceful).
    private var closedReason: String?
    /// Set when the tunnel ended because its connection did: what operations fail with.
    private var connectionError: PlexusError?
    private var closeWaiters: [EventLoopPromise<Void>] = []
    private var closeTimer: Scheduled<Void>?

    init(id: UInt64, chunkLimit: UInt64, connection: ConnectionCore) {
        self.id = id
        self.chunkLimit = Int(min(chunkLimit, 2_147_483_647))
        self.connection = connection
    }

    private var closedError: PlexusError {
        if let connectionError { return connectionError }
        let reason = closedReason ?? ""
        return .closed(reason: reason.isEmpty ? "tunnel closed" : reason)
    }

    private var isClosing: Bool { !closeWaiters.isEmpty }

    // MARK: Sending

    func send(_ message: ByteBuffer, timeout: Duration?, token: CancellationToken, promise: EventLoopPromise<Void>) {
        guard !token.isCancelled else { return promise.fail(CancellationError()) }
        guard closedReason == nil, !isClosing else { return promise.fail(closedError) }
        let operation = SendOperation(number: nextSendNumber, message: message, promise: promise)
        token.operationID = nextSendNumber
        nextSendNumber &+= 1
        if let timeout {
            let bound = NIOLoopBound((self, operation), eventLoop: eventLoop)
            operation.timer = eventLoop.scheduleTask(in: Validate.timeAmount(timeout)) {
                let (tunnel, operation) = bound.value
                tunnel.endSend(operation, with: PlexusError.timedOut)
            }
        }
        sends.append(operation)
        pumpSends()
    }

    /// The sending task was cancelled: the send ends now (chunks already sent stay sent).
    func cancelSend(_ token: CancellationToken) {
        guard let number = token.operationID, let operation = sends.first(where: { $0.number == number }) else { return }
        endSend(operation, with: CancellationError())
    }

    private func endSend(_ operation: SendOperation, with error: any Error) {
        guard let index = sends.firstIndex(where: { $0 === operation }) else { return }
        sends.remove(at: index)
        operation.timer?.cancel()
        operation.promise.fail(error)
        pumpSends()
    }

    /// Writes chunks of the head send while allowance covers them (a chunk goes out only when
    /// the remaining allowance covers all of it).
    private func pumpSends() {
        var wrote = false
        defer { if wrote { connection.flushIfIdle() } }
        while let operation = sends.first {
            while operation.remaining.readableBytes > 0 {
                let length = min(chunkLimit, operation.remaining.readableBytes)
                // `length` ≤ the readable bytes, so the slice is always there.
                guard allowance >= Int64(length), let chunk = operation.remaining.readSlice(length: length) else { return }
                allowance -= Int64(length)
                connection.write(.tunnelTransfer(id: id, sizeOrContinuation: operation.started ? 0 : operation.total, chunk: chunk))
                operation.started = true
                wrote = true
            }
            sends.removeFirst()
            operation.timer?.cancel()
            operation.promise.succeed()
        }
    }

    func allow(_ bytes: UInt64) {
        allowance += Int64(min(bytes, UInt64(Int64.max / 2)))
        pumpSends()
    }

    // MARK: Receiving

    func receiveChunk(size: UInt64, chunk: ByteBuffer) {
        guard closedReason == nil else { return }
        if size != 0 {
            if let dropped = partial {
                // A new message started while one was incomplete: discard it, re-grant its bytes.
                partial = nil
                grant(dropped.readableBytes)
            }
            let total = Int(min(size, UInt64(Int.max / 2)))
            if chunk.readableBytes >= total {
                complete(chunk)
            } else {
                var buffer = ByteBufferAllocator().buffer(capacity: min(total, 64 << 20))
                buffer.writeImmutableBuffer(chunk)
                partial = buffer
                partialSize = total
            }
        } else {
            guard var buffer = partial else {
                // Continuation without a message in progress: ignore, but keep the credit.
                grant(chunk.readableBytes)
                return
            }
            partial = nil  // the buffer stays uniquely referenced: appending does not copy it
            buffer.writeImmutableBuffer(chunk)
            if buffer.readableBytes >= partialSize {
                complete(buffer)
            } else {
                partial = buffer
            }
        }
    }

    private func complete(_ message: ByteBuffer) {
        if let receiver = receivers.popFirst() {
            receiver.timer?.cancel()
            grant(message.readableBytes)
            receiver.promise.succeed(message)
        } else {
            messages.append(message)
        }
    }

    private func grant(_ bytes: Int) {
        guard bytes > 0, closedReason == nil else { return }
        connection.write(.tunnelAllow(id: id, allowance: UInt64(bytes)))
    }

    func receive(timeout: Duration?, token: CancellationToken, promise: EventLoopPromise<ByteBuffer>) {
        guard !token.isCancelled else { return promise.fail(CancellationError()) }
        if let message = messages.popFirst() {
            grant(message.readableBytes)
            return promise.succeed(message)
        }
        guard closedReason == nil else { return promise.fail(closedError) }
        let operation = ReceiveOperation(number: nextReceiveNumber, promise: promise)
        token.operationID = nextReceiveNumber
        nextReceiveNumber &+= 1
        if let timeout {
            let bound = NIOLoopBound((self, operation), eventLoop: eventLoop)
            operation.timer = eventLoop.scheduleTask(in: Validate.timeAmount(timeout)) {
                let (tunnel, operation) = bound.value
                guard let index = tunnel.receivers.firstIndex(where: { $0 === operation }) else { return }
                tunnel.receivers.remove(at: index)
                operation.promise.fail(PlexusError.timedOut)
            }
        }
        receivers.append(operation)
    }

    /// The receiving task was cancelled: its wait ends now.
    func cancelReceive(_ token: CancellationToken) {
        guard let number = token.operationID,
              let index = receivers.firstIndex(where: { $0.number == number }) else { return }
        let operation = receivers.remove(at: index)
        operation.timer?.cancel()
        operation.promise.fail(CancellationError())
    }

    // MARK: Closing

    func close(promise: EventLoopPromise<Void>) {
        if let reason = closedReason {
            if let connectionError { return promise.fail(connectionError) }
            return reason.isEmpty ? promise.succeed() : promise.fail(PlexusError.closed(reason: reason))
        }
        closeWaiters.append(promise)
        guard closeWaiters.count == 1 else { return }
        // Pending sends end now; nothing more goes out on this tunnel but the close.
        let pending = sends
        sends.removeAll()
        for operation in pending {
            operation.timer?.cancel()
            operation.promise.fail(PlexusError.closed(reason: "tunnel closed locally"))
        }
        connection.write(.tunnelClose(id: id))
        connection.flushIfIdle()
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        closeTimer = eventLoop.scheduleTask(in: Validate.timeAmount(Defaults.closeBound)) {
            let tunnel = bound.value
            tunnel.connection.forgetTunnel(id: tunnel.id)
            tunnel.finish(reason: "no TUN_CLOSE from the relay within \(Defaults.closeBound)", timedOut: true)
        }
    }

    /// The relay's TUN_CLOSE (acknowledgement or notification).
    func remoteClosed(reason: String) {
        finish(reason: reason, timedOut: false)
    }

    /// The connection ended: the tunnel's operations fail with the connection's error.
    func connectionClosed(error: PlexusError) {
        guard closedReason == nil else { return }
        connectionError = error
        finish(reason: "\(error)", timedOut: false)
    }

    private func finish(reason: String, timedOut: Bool) {
        guard closedReason == nil else { return }
        closedReason = reason
        closeTimer?.cancel()
        partial = nil
        let error = closedError
        for operation in sends {
            operation.timer?.cancel()
            operation.promise.fail(error)
        }
        sends.removeAll()
        for operation in receivers {
            operation.timer?.cancel()
            operation.promise.fail(error)
        }
        receivers.removeAll()
        let waiters = closeWaiters
        closeWaiters.removeAll()
        for waiter in waiters {
            if timedOut { waiter.fail(PlexusError.timedOut) }
            else if reason.isEmpty { waiter.succeed() }
            else { waiter.fail(connectionError ?? PlexusError.closed(reason: reason)) }
        }
    }
}
