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

    private enum Phase { case awaitingActivation, handshaking, awaitingHello, established, closed }

    private let configuration: SessionConfiguration
    private var phase: Phase = .awaitingActivation
    private var handshake: SessionHandshake?
    private var pendingPeer: (staticKey: X25519PublicKey, handshakeHash: [UInt8], keyIndex: Int)?
    private var reader: TransportReader?
    private var writer: TransportWriter?
    private var cumulation: ByteBuffer?
    private var outbound: ByteBuffer?
    private var outboundPromises: [EventLoopPromise<Void>] = []
    private var deadline: Scheduled<Void>?

    /// Throws if the configuration cannot be encoded (e.g. too many advertised addresses).
    public init(configuration: SessionConfiguration) throws {
        self.configuration = configuration
        self.handshake = try SessionHandshake(configuration: configuration)
    }

    /// True once `SessionEstablished` has been fired and until the session closes.
    public var isEstablished: Bool { phase == .established }

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
        switch phase {
        case .awaitingActivation, .handshaking, .awaitingHello:
            fail(SessionError.peerClosedDuringHandshake, context: context)
        case .established:
            if let leftover = cumulation, leftover.readableBytes > 0 {
                fail(SessionError.truncated(leftover.readableBytes), context: context)
            } else if reader?.hasPartialFrame == true {
                fail(SessionError.truncated(0), context: context)
            } else {
                phase = .closed
                releaseState()
            }
        case .closed:
            break
        }
        context.fireChannelInactive()
    }

    private func activate(context: ChannelHandlerContext) {
        guard phase == .awaitingActivation else { return }
        phase = .handshaking
        let timeout = configuration.handshakeTimeout
        // Weak captures: an event loop that keeps cancelled tasks until it next runs (the
        // EmbeddedEventLoop does) must not keep the handler and its pipeline alive.
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self, weak context] in
            guard let self, let context, self.phase == .handshaking || self.phase == .awaitingHello else { return }
            self.fail(SessionError.handshakeTimeout(Double(timeout.nanoseconds) / 1e9), context: context)
        }
        if configuration.role == .initiator {
            do {
                let first = try handshake!.start()
                sendHandshakeMessage(first, context: context)
            } catch {
                fail(error, context: context)
            }
        }
    }

    // MARK: - Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard phase != .closed else { return }
        var incoming = unwrapInboundIn(data)
        if cumulation == nil {
            cumulation = incoming
        } else {
            cumulation!.writeBuffer(&incoming)
        }
        do {
            try processInbound(context: context)
        } catch {
            fail(error, context: context)
        }
    }

    private func processInbound(context: ChannelHandlerContext) throws {
        while phase == .handshaking {
            guard let message = try nextHandshakeMessage() else { return }
            let output: SessionHandshake.Output
            do {
                output = try handshake!.receive(message)
            } catch let error as NoiseError {
                throw SessionError.handshakeFailed(error)
            }
            if let reply = output.reply { sendHandshakeMessage(reply, context: context) }
            if let completion = output.completion { try beginTransport(completion, context: context) }
        }
        guard phase == .awaitingHello || phase == .established, var buffer = cumulation else { return }
        cumulation = nil
        let events = try reader!.read(from: &buffer, allocator: context.channel.allocator)
        if buffer.readableBytes > 0 {
            if buffer.readerIndex > SessionLimits.maximumMessageLength { buffer.discardReadBytes() }
            cumulation = buffer
        }
        for event in events {
            guard phase == .awaitingHello || phase == .established else { return }
            switch event {
            case .hello(let bytes):
                try establishInitiator(helloPayload: bytes, context: context)
            case .frame(let frame):
                context.fireChannelRead(wrapInboundOut(frame))
            }
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
        let message = buffer.readBytes(length: Int(length))!
        cumulation = buffer.readableBytes > 0 ? buffer : nil
        return message
    }

    private func beginTransport(_ completion: SessionHandshake.Completion, context: ChannelHandlerContext) throws {
        let role = configuration.role
        writer = TransportWriter(cipher: completion.ciphers.send, rekeyInterval: configuration.rekeyInterval,
                                 maximumFrameSize: configuration.maximumFrameSize)
        reader = TransportReader(cipher: completion.ciphers.receive, rekeyInterval: configuration.rekeyInterval,
                                 maximumFrameSize: configuration.maximumFrameSize, expectingHello: role == .initiator)
        let localPayload = handshake!.localPayload
        handshake = nil
        guard role == .responder else {
            phase = .awaitingHello
            pendingPeer = (completion.peerStaticKey, completion.handshakeHash, completion.keyIndex)
            return
        }
        // Responder: the initiator proved the key. Confirm with HELLO (sent even when the
        // versions do not overlap, so the initiator can report the mismatch itself).
        var hello = context.channel.allocator.buffer(capacity: 256)
        try localPayload.encode().withUnsafeBytes { try writer!.writeMessage(type: .hello, body: $0, into: &hello) }
        context.writeAndFlush(wrapOutboundOut(hello), promise: nil)
        let peerPayload = completion.peerPayload!
        guard let version = localPayload.negotiate(with: peerPayload) else {
            throw SessionError.unsupportedProtocolVersion(ours: localPayload.versions, theirs: peerPayload.versions)
        }
        establish(SessionEstablished(peerNodeID: NodeID(staticPublicKey: completion.peerStaticKey),
                                     peerStaticKey: completion.peerStaticKey, peerAddresses: peerPayload.addresses,
                                     protocolVersion: version, handshakeHash: completion.handshakeHash,
                                     keyIndex: completion.keyIndex), context: context)
    }

    private func establishInitiator(helloPayload: [UInt8], context: ChannelHandlerContext) throws {
        let peerPayload = try HandshakePayload.decode(helloPayload)
        let ours = HandshakePayload(versions: configuration.supportedVersions, addresses: configuration.advertisedAddresses)
        guard let version = ours.negotiate(with: peerPayload) else {
            throw SessionError.unsupportedProtocolVersion(ours: ours.versions, theirs: peerPayload.versions)
        }
        let peer = pendingPeer!
        pendingPeer = nil
        establish(SessionEstablished(peerNodeID: NodeID(staticPublicKey: peer.staticKey), peerStaticKey: peer.staticKey,
                                     peerAddresses: peerPayload.addresses, protocolVersion: version,
                                     handshakeHash: peer.handshakeHash, keyIndex: peer.keyIndex), context: context)
    }

    private func establish(_ event: SessionEstablished, context: ChannelHandlerContext) {
        phase = .established
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
        guard phase == .established else {
            promise?.fail(phase == .closed ? SessionError.closed : SessionError.notEstablished)
            return
        }
        let frame = unwrapOutboundIn(data)
        if outbound == nil {
            outbound = context.channel.allocator.buffer(capacity: frame.readableBytes + 64)
        }
        do {
            try writer!.writeFrame(frame, into: &outbound!)
        } catch {
            promise?.fail(error)
            return
        }
        if let promise { outboundPromises.append(promise) }
        if outbound!.readableBytes >= configuration.outboundWriteThreshold {
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
        guard phase != .closed else { return }
        let duringHandshake = phase != .established
        phase = .closed
        deadline?.cancel()
        deadline = nil
        releaseState()
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

    private func releaseState() {
        handshake = nil
        reader = nil
        writer = nil
        cumulation = nil
        pendingPeer = nil
    }

    private func failOutbound(_ error: Error) {
        outbound = nil
        let waiting = outboundPromises
        outboundPromises.removeAll()
        waiting.forEach { $0.fail(error) }
    }
}
