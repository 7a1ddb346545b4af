import Logging
import NIOCore
import PlexusCrypto
import PlexusNoise

/// An encrypted relay-to-relay session over a TCP byte stream: runs the XXpsk3 handshake
/// (see `SessionHandshake`) with a deadline, then carries application frames as Noise
/// transport messages (see `TransportWriter`/`TransportReader` and Docs/session-protocol.md).
///
/// Inbound it emits, in order: one `SessionEstablished` user event, then one `ByteBuffer`
/// per complete, authenticated application frame. Outbound it accepts `ByteBuffer`
/// frames once established (earlier writes fail with `notEstablished`), encrypts them
/// into one buffer per flush, and passes them on.
///
/// Guarantees: nothing is delivered before the peer is authenticated; any failure
/// (authentication, malformed input, limit, timeout, version) fires exactly one
/// `SessionError`, is logged once, closes the channel, and delivers nothing further.
/// The deadline is scheduled on the channel's event loop, so it follows virtual time on
/// an `EmbeddedEventLoop`.
public final class NoiseSessionHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// What the handler holds in each state, and nothing else.
    private enum State {
        /// Created, the channel not active yet.
        case awaitingActivation(SessionHandshake)
        /// Noise handshake messages are being exchanged.
        case handshaking(SessionHandshake)
        /// The Noise handshake completed: the initiator waits for the responder's HELLO (which
        /// confirms the key); the responder has sent it and is agreeing on the version.
        case awaitingHello(Transport, AuthenticatedPeer)
        /// Application frames flow both ways.
        case established(Transport)
        /// Failed or ended; nothing more is read or written.
        case closed
        /// Transient, while a case's payload is mutated in place (so it is never copied).
        case modifying

        var isHandshaking: Bool {
            switch self {
            case .awaitingActivation, .handshaking, .awaitingHello: return true
            case .established, .closed, .modifying: return false
            }
        }
    }

    /// The two directions of an established Noise transport.
    private struct Transport {
        var reader: TransportReader
        var writer: TransportWriter
    }

    private let configuration: SessionConfiguration
    private var state: State
    private var cumulation: ByteBuffer?
    private var outbound: ByteBuffer?
    private var outboundPromises: [EventLoopPromise<Void>] = []
    private var deadline: Scheduled<Void>?

    /// Throws if the configuration cannot be encoded (e.g. too many advertised addresses).
    public init(configuration: SessionConfiguration) throws {
        self.configuration = configuration
        self.state = .awaitingActivation(try SessionHandshake(configuration: configuration))
    }

    /// True once `SessionEstablished` has been fired and until the session closes.
    public var isEstablished: Bool {
        if case .established = state { return true }
        return false
    }

    private var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    // MARK: - Lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { activate(context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        failOutbound(SessionError.closed)
    }

    public func channelActive(context: ChannelHandlerContext) {
        activate(context: context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .handshaking(let handshake) where handshake.awaitsFirstAnswer:
            fail(SessionError.peerClosedBeforeResponding, context: context)
        case .awaitingActivation, .handshaking, .awaitingHello:
            fail(SessionError.peerClosedDuringHandshake, context: context)
        case .established(let transport):
            if let leftover = cumulation, leftover.readableBytes > 0 {
                fail(SessionError.truncated(leftover.readableBytes), context: context)
            } else if transport.reader.hasPartialFrame {
                fail(SessionError.truncated(0), context: context)
            } else {
                close()
            }
        case .closed, .modifying:
            break
        }
        context.fireChannelInactive()
    }

    private func activate(context: ChannelHandlerContext) {
        guard case .awaitingActivation(var handshake) = state else { return }
        state = .modifying
        let timeout = configuration.handshakeTimeout
        // Weak captures: an event loop that keeps cancelled tasks until it next runs (the
        // EmbeddedEventLoop does) must not keep the handler and its pipeline alive.
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self, weak context] in
            guard let self, let context, self.state.isHandshaking else { return }
            self.fail(SessionError.handshakeTimeout(Double(timeout.nanoseconds) / 1e9), context: context)
        }
        if configuration.role == .initiator {
            do {
                let first = try handshake.start()
                state = .handshaking(handshake)
                sendHandshakeMessage(first, context: context)
            } catch {
                state = .handshaking(handshake)
                fail(error, context: context)
            }
        } else {
            state = .handshaking(handshake)
        }
    }

    // MARK: - Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isClosed else { return }
        var incoming = unwrapInboundIn(data)
        if var existing = cumulation {
            cumulation = nil
            existing.writeBuffer(&incoming)
            cumulation = existing
        } else {
            cumulation = incoming
        }
        do {
            try processInbound(context: context)
        } catch {
            fail(error, context: context)
        }
    }

    private func processInbound(context: ChannelHandlerContext) throws {
        while case .handshaking(var handshake) = state {
            guard let message = try nextHandshakeMessage() else { return }
            state = .modifying
            let output: SessionHandshake.Output
            do {
                output = try handshake.receive(message)
            } catch let error as NoiseError {
                state = .handshaking(handshake)
                throw SessionError.handshakeFailed(error)
            } catch {
                state = .handshaking(handshake)
                throw error
            }
            state = .handshaking(handshake)
            if let reply = output.reply { sendHandshakeMessage(reply, context: context) }
            if let completion = output.completion {
                try beginTransport(completion, localPayload: handshake.localPayload, context: context)
            }
        }
        guard var buffer = cumulation else { return }
        cumulation = nil
        let events = try withTransport { try $0.reader.read(from: &buffer, allocator: context.channel.allocator) } ?? []
        if buffer.readableBytes > 0 {
            if buffer.readerIndex > SessionLimits.maximumMessageLength { buffer.discardReadBytes() }
            cumulation = buffer
        }
        for event in events {
            switch (event, state) {
            case (.hello(let bytes), .awaitingHello(let transport, let peer)):
                let ours = HandshakePayload(versions: configuration.supportedVersions,
                                            addresses: configuration.advertisedAddresses)
                let established = try SessionEstablishment.initiator(helloPayload: bytes, ours: ours, peer: peer)
                state = .established(transport)
                announce(established, context: context)
            case (.frame(let frame), .established):
                context.fireChannelRead(wrapInboundOut(frame))
            case (.hello, _), (.frame, _):
                // The reader reports HELLO only first and only to an initiator: after a failure
                // (closed) nothing more is delivered.
                return
            }
        }
    }

    /// Runs `body` on the transport of an initiator awaiting HELLO or of an established session,
    /// in place; nil in any other state.
    private func withTransport<Result>(_ body: (inout Transport) throws -> Result) rethrows -> Result? {
        switch state {
        case .awaitingHello(var transport, let peer):
            state = .modifying
            defer { state = .awaitingHello(transport, peer) }
            return try body(&transport)
        case .established(var transport):
            state = .modifying
            defer { state = .established(transport) }
            return try body(&transport)
        case .awaitingActivation, .handshaking, .closed, .modifying:
            return nil
        }
    }

    /// Takes one length-prefixed handshake message off the cumulation buffer, if complete.
    private func nextHandshakeMessage() throws -> [UInt8]? {
        guard var buffer = cumulation, let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { return nil }
        let allowed = 1...SessionLimits.maximumHandshakeMessageLength
        guard allowed.contains(Int(length)) else {
            throw SessionError.messageLengthOutOfRange(Int(length), allowed: allowed, duringHandshake: true)
        }
        guard buffer.readableBytes >= SessionLimits.lengthPrefixSize + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: SessionLimits.lengthPrefixSize)
        guard let message = buffer.readBytes(length: Int(length)) else { return nil }
        cumulation = buffer.readableBytes > 0 ? buffer : nil
        return message
    }

    private func beginTransport(_ completion: SessionHandshake.Completion, localPayload: HandshakePayload,
                                context: ChannelHandlerContext) throws {
        let role = configuration.role
        var transport = Transport(
            reader: TransportReader(cipher: completion.ciphers.receive, rekeyInterval: configuration.rekeyInterval,
                                    maximumFrameSize: configuration.maximumFrameSize, expectingHello: role == .initiator),
            writer: TransportWriter(cipher: completion.ciphers.send, rekeyInterval: configuration.rekeyInterval,
                                    maximumFrameSize: configuration.maximumFrameSize))
        guard role == .responder else {
            state = .awaitingHello(transport, AuthenticatedPeer(staticKey: completion.peerStaticKey,
                                                                handshakeHash: completion.handshakeHash,
                                                                keyIndex: completion.keyIndex, cipher: completion.cipher))
            return
        }
        // Responder: the initiator proved the key. Confirm with HELLO (sent even when the
        // versions do not overlap, so the initiator can report the mismatch itself).
        var hello = context.channel.allocator.buffer(capacity: 256)
        try localPayload.encode().withUnsafeBytes { try transport.writer.writeMessage(type: .hello, body: $0, into: &hello) }
        // Still part of the handshake (for `fail` and the deadline) until the version is agreed.
        state = .awaitingHello(transport, AuthenticatedPeer(staticKey: completion.peerStaticKey,
                                                            handshakeHash: completion.handshakeHash,
                                                            keyIndex: completion.keyIndex, cipher: completion.cipher))
        context.writeAndFlush(wrapOutboundOut(hello), promise: nil)
        guard case .awaitingHello = state else { return } // the write failed and closed the session
        let established = try SessionEstablishment.responder(completion, localPayload: localPayload)
        state = .established(transport)
        announce(established, context: context)
    }

    private func announce(_ event: SessionEstablished, context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        var logger = configuration.logger
        logger[metadataKey: "peer"] = "\(event.peerNodeID)"
        logger.debug("session established", metadata: ["version": "\(event.protocolVersion)"])
        if event.keyIndex > 0 {
            logger.notice("peer authenticated with a secondary network key; it has not switched to the primary yet",
                          metadata: ["key": "\(configuration.keyring.acceptedKeys[event.keyIndex].fingerprint)"])
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: - Outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard isEstablished else {
            promise?.fail(isClosed ? SessionError.closed : SessionError.notEstablished)
            return
        }
        let frame = unwrapOutboundIn(data)
        var buffer = outbound ?? context.channel.allocator.buffer(capacity: frame.readableBytes + 64)
        outbound = nil // `buffer` is the only reference while it grows
        do {
            try withTransport { try $0.writer.writeFrame(frame, into: &buffer) }
        } catch {
            outbound = buffer
            promise?.fail(error)
            return
        }
        outbound = buffer
        if let promise { outboundPromises.append(promise) }
        if buffer.readableBytes >= configuration.outboundWriteThreshold {
            emitOutbound(context: context, flush: false)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        emitOutbound(context: context, flush: true)
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all || mode == .output { failOutbound(SessionError.closed) }
        context.close(mode: mode, promise: promise)
    }

    private func emitOutbound(context: ChannelHandlerContext, flush: Bool) {
        if let buffer = outbound {
            outbound = nil
            context.write(wrapOutboundOut(buffer), promise: combinedPromise(context: context))
        }
        if flush { context.flush() }
    }

    private func combinedPromise(context: ChannelHandlerContext) -> EventLoopPromise<Void>? {
        defer { outboundPromises.removeAll(keepingCapacity: true) }
        switch outboundPromises.count {
        case 0: return nil
        case 1: return outboundPromises[0]
        default:
            let combined = context.eventLoop.makePromise(of: Void.self)
            let waiting = outboundPromises
            combined.futureResult.whenComplete { result in waiting.forEach { $0.completeWith(result) } }
            return combined
        }
    }

    private func sendHandshakeMessage(_ message: [UInt8], context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: SessionLimits.lengthPrefixSize + message.count)
        buffer.writeInteger(UInt16(message.count))
        buffer.writeBytes(message)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    // MARK: - Failure

    private func fail(_ error: Error, context: ChannelHandlerContext) {
        guard !isClosed else { return }
        let duringHandshake = !isEstablished
        close()
        let sessionError = error as? SessionError
            ?? SessionError.malformedMessage("\(error)", duringHandshake: duringHandshake)
        var logger = configuration.logger
        if let remote = context.channel.remoteAddress { logger[metadataKey: "remote"] = "\(remote)" }
        logger[metadataKey: "reason"] = "\(sessionError.code.rawValue)"
        if duringHandshake {
            logger.warning("session handshake failed: \(sessionError.message)")
        } else {
            logger.warning("session closed: \(sessionError.message)")
        }
        failOutbound(sessionError)
        context.fireErrorCaught(sessionError)
        context.close(promise: nil)
    }

    /// Ends the session: the handshake, ciphers and buffered input are released.
    private func close() {
        state = .closed
        deadline?.cancel()
        deadline = nil
        cumulation = nil
    }

    private func failOutbound(_ error: Error) {
        outbound = nil
        let waiting = outboundPromises
        outboundPromises.removeAll()
        waiting.forEach { $0.fail(error) }
    }
}
