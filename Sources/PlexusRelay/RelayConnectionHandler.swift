import NIOCore
import PlexusRelayCore
import PlexusWire

/// The per-connection NIO handler: decodes the client's packets (`InboundCumulation`: no
/// `ByteToMessageHandler`, no `NIOAny` per packet), hands them to the `CoreDriver` and owns the
/// connection's outbound buffer. It contains no protocol logic.
final class RelayConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How long a closing connection may take to accept its last bytes before it is closed hard.
    static let closeGrace: TimeAmount = .seconds(2)

    /// Unfinished packets below this size are reported to the input budget as 0 (they are the
    /// normal tail of a read and cost nothing to hold); only changes are reported.
    static let inputReportingFloor = 64 * 1024

    private let driver: CoreDriver
    private let limits: WireLimits
    private var id: ConnectionID?
    private var input = InboundCumulation()
    /// The bytes of an unfinished packet last reported to the driver.
    private var reportedInput = 0
    /// A malformed packet was received: nothing after it is decoded.
    private var inputFailed = false
    private var context: ChannelHandlerContext?
    /// Encoded packets not yet handed to the channel.
    var pending = ByteBuffer()
    var dirty = false
    /// Write what is pending, then close; nothing more is queued.
    var closeAfterFlush = false
    private var closing = false
    /// The most recent write: NIO completes writes in order, so when it is done, all are.
    private var lastWrite: EventLoopFuture<Void>?
    private(set) var readingPaused = false
    private var readRequested = false

    init(driver: CoreDriver, limits: WireLimits) {
        self.driver = driver
        self.limits = limits
    }

    /// The client's address as "host:port" (for `/v1/connections`); read on the loop.
    var remoteAddressText: String? {
        guard let address = context?.channel.remoteAddress else { return nil }
        return "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        id = driver.opened(self)
        driver.flushDirty()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let id, !closeAfterFlush, !inputFailed else { return }
        input.append(unwrapInboundIn(data))
        do {
            while let packet = try input.nextClientPacket(limits: limits) {
                driver.received(packet, from: id)
                // Closed meanwhile (CLOSE, a violation): the rest of the read is not for the core.
                guard self.id != nil, !closeAfterFlush else { break }
            }
        } catch {
            inputFailed = true
            input.discard()
            reportInput(id)
            driver.decodeFailed(id, error: error.description)
            return
        }
        input.readComplete()
        reportInput(id)
    }

    /// Tells the driver how many bytes of an unfinished packet this connection holds, when that
    /// changes (`RelayConfiguration.inputBudgetBytes`).
    private func reportInput(_ id: ConnectionID) {
        let held = input.bufferedBytes >= Self.inputReportingFloor ? input.bufferedBytes : 0
        guard held != reportedInput else { return }
        reportedInput = held
        driver.inputBuffered(held, by: id)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard let id else { return }
        driver.batchComplete(id)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard id != nil else { context.close(promise: nil); return }
        if !closeAfterFlush { closeNow() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let id { driver.closed(id) }
        id = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client shut its write side: if it already sent CLOSE, the answer is still written
        // before the socket closes; otherwise this is a drop.
        if let event = event as? ChannelEvent, event == .inputClosed, !closeAfterFlush {
            closeNow()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        if readingPaused { readRequested = true } else { context.read() }
    }

    // MARK: Driven by the CoreDriver

    func pauseReading() { readingPaused = true }

    func resumeReading() {
        readingPaused = false
        if readRequested, let context {
            readRequested = false
            context.read()
        }
    }

    /// Writes the pending bytes with one flush; reports them to the driver once the socket took them.
    func flush(driver: CoreDriver, id: ConnectionID) {
        guard let context, !closing else { return }
        let bytes = pending.readableBytes
        if bytes > 0 {
            let buffer = pending
            pending = ByteBuffer()
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.assumeIsolated().whenComplete { _ in
                driver.written(id, bytes: bytes)
            }
            context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
            lastWrite = promise.futureResult
            if closeAfterFlush {
                closing = true
                promise.futureResult.assumeIsolated().whenComplete { [weak self] _ in self?.closeNow() }
                // A peer that does not read would keep the socket open forever: bound the wait.
                context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeGrace) { [weak self] in self?.closeNow() }
            }
        } else if closeAfterFlush {
            closing = true
            if let lastWrite {
                // Earlier bytes may still be on their way: close only after they were written.
                lastWrite.assumeIsolated().whenComplete { [weak self] _ in self?.closeNow() }
                context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeGrace) { [weak self] in self?.closeNow() }
            } else {
                closeNow()
            }
        }
    }

    func closeNow() {
        closing = true
        context?.close(promise: nil)
    }
}
