import NIOCore

/// What a peer-port route installs once an accepted connection's preface is known: the
/// session's `NoiseSessionHandler`, placed right after the preface handler (so an
/// `AdmissionHandler` already behind it sees `SessionEstablished`), and the handlers that consume
/// the session's frames, appended last. Built on the channel's event loop.
public struct PeerPortPipeline {
    public var session: NoiseSessionHandler
    public var application: [ChannelHandler]

    public init(session: NoiseSessionHandler, application: [ChannelHandler]) {
        self.session = session
        self.application = application
    }
}

/// The first handler of every connection accepted on the peer port: reads the one-byte
/// `PeerPortPreface` (through the pure `PeerPortPrefaceDecoder`), installs the pipeline the
/// route builds for it, hands it any bytes that arrived with the preface, and removes itself.
/// A bad or unserved preface, or none within the deadline, closes only this connection and is
/// reported to `onRejected`. Guarantees the route is asked at most once per connection.
public final class PeerPortPrefaceHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    private let served: Set<PeerPortPreface>
    private let deadlineMilliseconds: Int64
    private let route: (PeerPortPreface, Channel) throws -> PeerPortPipeline
    private let onRejected: (PeerPortPrefaceError) -> Void
    private var decoder: PeerPortPrefaceDecoder?
    private var timer: Scheduled<Void>?
    private var decided = false

    /// - Parameters:
    ///   - served: the kinds this listener serves; others are refused (`unservedPreface`).
    ///   - route: builds the pipeline for a served kind (on the channel's loop); a throw closes the connection.
    ///   - onRejected: called once for a refused connection, before it is closed.
    public init(served: Set<PeerPortPreface> = Set(PeerPortPreface.allCases),
                deadlineMilliseconds: Int64 = PeerPortPreface.deadlineMilliseconds,
                route: @escaping (PeerPortPreface, Channel) throws -> PeerPortPipeline,
                onRejected: @escaping (PeerPortPrefaceError) -> Void = { _ in }) {
        self.served = served
        self.deadlineMilliseconds = deadlineMilliseconds
        self.route = route
        self.onRejected = onRejected
    }

    static func now() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

    public func handlerAdded(context: ChannelHandlerContext) {
        decoder = PeerPortPrefaceDecoder(acceptedAt: Self.now(), served: served, deadlineMilliseconds: deadlineMilliseconds)
        // Weak captures: a loop that keeps cancelled tasks must not keep the pipeline alive.
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(deadlineMilliseconds)) {
            [weak self, weak context] in
            guard let self, let context, !self.decided, var decoder = self.decoder else { return }
            // The timer may fire a moment before the decoder's clock agrees: the deadline passed.
            let outcome = decoder.expire(now: max(Self.now(), decoder.deadline))
            self.decoder = decoder
            if case .reject(let error) = outcome { self.reject(error, context: context) }
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard !decided, var decoder else {
            context.fireChannelRead(data)
            return
        }
        let outcome = decoder.receive(buffer.readableBytesView, now: Self.now())
        self.decoder = decoder
        switch outcome {
        case .needMoreBytes:
            return
        case .reject(let error):
            reject(error, context: context)
        case .route(let kind):
            decided = true
            timer?.cancel()
            timer = nil
            buffer.moveReaderIndex(forwardBy: PeerPortPreface.length)
            do {
                let pipeline = try route(kind, context.channel)
                let sync = context.pipeline.syncOperations
                try sync.addHandler(pipeline.session, position: .after(self))
                try sync.addHandlers(pipeline.application, position: .last)
            } catch {
                context.close(promise: nil)
                return
            }
            if buffer.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(buffer)) }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    private func reject(_ error: PeerPortPrefaceError, context: ChannelHandlerContext) {
        guard !decided else { return }
        decided = true
        timer?.cancel()
        timer = nil
        onRejected(error)
        context.close(promise: nil)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }
}

/// The first handler of every connection dialed to a peer port: writes the preface when the
/// connection becomes active (before the `NoiseSessionHandler` behind it sends its first
/// handshake message), then removes itself. Guarantees the preface is the connection's first byte.
public final class PeerPortPrefaceWriter: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer
    private let kind: PeerPortPreface

    public init(_ kind: PeerPortPreface) { self.kind = kind }

    public func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: kind.bytes)), promise: nil)
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
