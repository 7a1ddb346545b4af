import Logging
import NIOCore

/// What an `AdmissionController` did, for the owner's counters.
public enum AdmissionEvent: Sendable, Hashable {
    case refused(ConnectionAdmission.Refusal)
    /// A connection did not complete its handshake in time and was closed.
    case handshakeTimedOut
    /// Accepting failed (typically out of file descriptors) and accepts pause for a while.
    case acceptBackedOff
}

/// Runs one listener's `ConnectionAdmission` on real channels: assigns connection IDs, closes
/// refused and timed-out connections, keeps one timer for the earliest handshake deadline, and
/// logs refusals at most once per reason per `logInterval` with the number suppressed.
///
/// Every channel of the listener, and the listener itself, must run on `eventLoop`: all methods
/// are called there (it is not thread-safe; `NIOLoopBound` carries it into `@Sendable` closures).
public final class AdmissionController {
    public let eventLoop: EventLoop
    public private(set) var admission: ConnectionAdmission
    /// Receives every refusal, timeout and accept backoff (e.g. to count them).
    public var observer: ((AdmissionEvent) -> Void)?
    /// Whether a source address (IP as text) belongs to a known peer, which may use the reserve.
    /// Default: none is known.
    public var isKnownPeer: (String) -> Bool
    private let logger: Logger
    private var logLimiter: LogRateLimiter
    private var channels: [ConnectionAdmission.ConnectionID: Channel] = [:]
    private var nextID: ConnectionAdmission.ConnectionID = 0
    private var timer: Scheduled<Void>?
    private var timerDeadline: Int64?

    public init(eventLoop: EventLoop, limits: ConnectionAdmissionLimits = ConnectionAdmissionLimits(),
                logInterval: Int64 = 10_000, logger: Logger, isKnownPeer: @escaping (String) -> Bool = { _ in false }) {
        self.eventLoop = eventLoop
        self.admission = ConnectionAdmission(limits: limits)
        self.logLimiter = LogRateLimiter(interval: logInterval)
        self.logger = logger
        self.isKnownPeer = isKnownPeer
    }

    /// A handler for one accepted channel; add it right after the `NoiseSessionHandler` (it needs
    /// to see `SessionEstablished`).
    public func makeHandler() -> AdmissionHandler { AdmissionHandler(controller: self) }

    /// The provider for NIO's `AcceptBackoffHandler` on the listener: pauses accepting for 1 s
    /// after an accept error (EMFILE, ENFILE, ENOBUFS, ENOMEM), counts and logs it.
    public func acceptBackoff(after error: IOError) -> TimeAmount? {
        eventLoop.assertInEventLoop()
        observer?(.acceptBackedOff)
        log("accept-backoff", "pausing accepts on the peer port for 1 s", metadata: ["error": "\(error)"])
        return .seconds(1)
    }

    static func now() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

    func accepted(_ channel: Channel) -> ConnectionAdmission.ConnectionID? {
        nextID += 1
        let id = nextID
        let source = channel.remoteAddress?.ipAddress ?? "?"
        switch admission.accepted(id, from: source, isKnownPeer: isKnownPeer(source), now: Self.now()) {
        case .admit:
            channels[id] = channel
            armTimer()
            return id
        case .refuse(let reason):
            observer?(.refused(reason))
            log("refused-\(reason.rawValue)", "peer connection refused", metadata: ["reason": "\(reason.rawValue)", "source": "\(source)"])
            channel.close(promise: nil)
            return nil
        }
    }

    func handshakeCompleted(_ id: ConnectionAdmission.ConnectionID) {
        guard !admission.handshakeCompleted(id) else { return }
        observer?(.refused(.authenticatedLimit))
        log("refused-authenticatedLimit", "peer connection closed: too many sessions", metadata: [:])
        channels.removeValue(forKey: id)?.close(promise: nil)
    }

    func closed(_ id: ConnectionAdmission.ConnectionID) {
        admission.closed(id)
        channels[id] = nil
    }

    private func armTimer() {
        guard let deadline = admission.nextDeadline else { return }
        if let current = timerDeadline, current <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        timer = eventLoop.scheduleTask(in: .milliseconds(max(0, deadline - Self.now()))) { bound.value.expire() }
    }

    private func expire() {
        timer = nil
        timerDeadline = nil
        for id in admission.expired(now: Self.now()) {
            observer?(.handshakeTimedOut)
            log("handshake-timeout", "peer connection closed: no handshake in time", metadata: [:])
            channels.removeValue(forKey: id)?.close(promise: nil)
        }
        armTimer()
    }

    private func log(_ key: String, _ message: String, metadata: Logger.Metadata) {
        guard let suppressed = logLimiter.admit(key, now: Self.now()) else { return }
        var metadata = metadata
        if suppressed > 0 { metadata["suppressed-since-last"] = "\(suppressed)" }
        logger.warning("\(message)", metadata: metadata)
    }
}

/// The thin per-connection half of `AdmissionController`: reports the connection's activation,
/// authentication (`SessionEstablished`) and end. Place it right after the `NoiseSessionHandler`.
public final class AdmissionHandler: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    private let controller: AdmissionController
    private var id: ConnectionAdmission.ConnectionID?

    init(controller: AdmissionController) { self.controller = controller }

    public func channelActive(context: ChannelHandlerContext) {
        id = controller.accepted(context.channel)
        context.fireChannelActive()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is SessionEstablished, let id { controller.handshakeCompleted(id) }
        context.fireUserInboundEventTriggered(event)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if let id { controller.closed(id) }
        id = nil
        context.fireChannelInactive()
    }
}
