import Foundation
import Logging
import NIOCore
import NIOEmbedded
import PlexusCrypto
import PlexusNoise
import PlexusSession

/// Collects log records. `@unchecked Sendable` is sound: every access to `storage` holds `lock`.
final class LogCapture: @unchecked Sendable {
    struct Record { let level: Logger.Level; let message: String }
    private let lock = NSLock()
    private var storage: [Record] = []

    func append(_ record: Record) { lock.lock(); storage.append(record); lock.unlock() }
    var records: [Record] { lock.lock(); defer { lock.unlock() }; return storage }
    var warnings: [Record] { records.filter { $0.level >= .warning } }

    func logger(_ label: String) -> Logger {
        Logger(label: label) { _ in CapturingLogHandler(capture: self) }
    }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        capture.append(.init(level: event.level, message: event.message.description))
    }
}

/// Records everything that reaches the end of the pipeline.
final class Recorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var frames: [ByteBuffer] = []
    var established: [SessionEstablished] = []
    var errors: [SessionError] = []
    var otherErrors: [Error] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { frames.append(unwrapInboundIn(data)) }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? SessionEstablished { established.append(event) }
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let error = error as? SessionError { errors.append(error) } else { otherErrors.append(error) }
    }
}

/// Interception point for bytes in flight: return nil to drop, or modified bytes.
typealias Tap = (_ fromInitiator: Bool, _ index: Int, _ bytes: ByteBuffer) -> ByteBuffer?

/// Two sessions back to back on one EmbeddedEventLoop, bytes pumped by hand.
final class SessionPair {
    let loop = EmbeddedEventLoop()
    let initiator: EmbeddedChannel
    let responder: EmbeddedChannel
    let initiatorRecorder = Recorder()
    let responderRecorder = Recorder()
    let initiatorLogs = LogCapture()
    let responderLogs = LogCapture()
    var tap: Tap?
    private var sentByInitiator = 0
    private var sentByResponder = 0

    static let initiatorIdentity = StaticIdentity.ephemeral()
    static let responderIdentity = StaticIdentity.ephemeral()

    init(initiatorKeyring: Keyring, responderKeyring: Keyring,
         configure: (inout SessionConfiguration, inout SessionConfiguration) -> Void = { _, _ in }) throws {
        var initiatorConfig = SessionConfiguration(role: .initiator, identity: Self.initiatorIdentity, keyring: initiatorKeyring,
                                                   advertisedAddresses: ["10.0.0.1:7946"], logger: initiatorLogs.logger("initiator"))
        var responderConfig = SessionConfiguration(role: .responder, identity: Self.responderIdentity, keyring: responderKeyring,
                                                   advertisedAddresses: ["10.0.0.2:7946", "[fd00::2]:7946"],
                                                   logger: responderLogs.logger("responder"))
        configure(&initiatorConfig, &responderConfig)
        initiator = EmbeddedChannel(loop: loop)
        responder = EmbeddedChannel(loop: loop)
        try initiator.pipeline.syncOperations.addHandlers([NoiseSessionHandler(configuration: initiatorConfig), initiatorRecorder])
        try responder.pipeline.syncOperations.addHandlers([NoiseSessionHandler(configuration: responderConfig), responderRecorder])
    }

    convenience init(key: NetworkKey = NetworkKey.generate(),
                     configure: (inout SessionConfiguration, inout SessionConfiguration) -> Void = { _, _ in }) throws {
        try self.init(initiatorKeyring: Keyring(primary: key), responderKeyring: Keyring(primary: key), configure: configure)
    }

    func connect() throws {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 9)
        try responder.connect(to: address).wait()
        try initiator.connect(to: address).wait()
    }

    /// Moves bytes both ways until quiet (bounded), propagating closure.
    func pump(maxRounds: Int = 100_000) throws {
        for _ in 0..<maxRounds {
            var moved = false
            while let buffer = try initiator.readOutbound(as: ByteBuffer.self) {
                moved = true
                let index = sentByInitiator
                sentByInitiator += 1
                guard let delivered = tap?(true, index, buffer) ?? (tap == nil ? buffer : nil) else { continue }
                if responder.isActive { try responder.writeInbound(delivered) }
            }
            while let buffer = try responder.readOutbound(as: ByteBuffer.self) {
                moved = true
                let index = sentByResponder
                sentByResponder += 1
                guard let delivered = tap?(false, index, buffer) ?? (tap == nil ? buffer : nil) else { continue }
                if initiator.isActive { try initiator.writeInbound(delivered) }
            }
            if !initiator.isActive && responder.isActive { _ = try? responder.close().wait(); moved = true }
            if !responder.isActive && initiator.isActive { _ = try? initiator.close().wait(); moved = true }
            if !moved { return }
        }
        fatalError("pump did not settle within \(maxRounds) rounds")
    }

    func establish() throws {
        try connect()
        try pump()
    }

    var bothEstablished: Bool {
        initiatorRecorder.established.count == 1 && responderRecorder.established.count == 1
    }
}

func frame(size: Int, seed: UInt8) -> ByteBuffer {
    var buffer = ByteBufferAllocator().buffer(capacity: size)
    buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { pointer in
        for i in 0..<size { pointer[i] = UInt8(truncatingIfNeeded: i &* 31 &+ Int(seed)) }
        return size
    }
    return buffer
}
