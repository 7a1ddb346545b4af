import PlexusVocabulary
import NIOCore

/// Local limits of a service, as the relay protocol defines them: how many handlers run at
/// once and how many payload bytes may wait in the queue, separately for requests and
/// broadcasts. A value ≤ 0 takes the default (4 × CPU cores handlers, 64 MiB).
public struct ServiceLimits: Sendable, Equatable {
    public var requestConcurrency: Int
    public var requestMemoryBytes: Int
    public var broadcastConcurrency: Int
    public var broadcastMemoryBytes: Int

    public init(
        requestConcurrency: Int = Defaults.concurrency,
        requestMemoryBytes: Int = Defaults.memoryBytes,
        broadcastConcurrency: Int = Defaults.concurrency,
        broadcastMemoryBytes: Int = Defaults.memoryBytes
    ) {
        self.requestConcurrency = requestConcurrency
        self.requestMemoryBytes = requestMemoryBytes
        self.broadcastConcurrency = broadcastConcurrency
        self.broadcastMemoryBytes = broadcastMemoryBytes
    }
}

/// Local limits of one subscription, as the relay protocol defines them: concurrent handler
/// invocations (handler form only) and payload bytes waiting to be taken. A value ≤ 0 takes
/// the default.
public struct SubscriptionLimits: Sendable, Equatable {
    public var eventConcurrency: Int
    public var eventMemoryBytes: Int

    public init(eventConcurrency: Int = Defaults.concurrency, eventMemoryBytes: Int = Defaults.memoryBytes) {
        self.eventConcurrency = eventConcurrency
        self.eventMemoryBytes = eventMemoryBytes
    }
}

/// Default limits, as in the Go binding of the Iris relay protocol.
public enum Defaults {
    /// 4 × the number of CPU cores.
    public static let concurrency = 4 * System.coreCount
    /// 64 MiB.
    public static let memoryBytes = 64 * 1024 * 1024
    /// Extra time the local request / tunnel-construction timer waits beyond T for the
    /// relay's answer before giving up on its own.
    public static let answerGrace: Duration = .seconds(2)
    /// How long `close()` (connection or tunnel) waits for the relay's CLOSE / TUN_CLOSE.
    public static let closeBound: Duration = .seconds(5)

    static func concurrency(_ value: Int) -> Int { value > 0 ? value : concurrency }
    static func memory(_ value: Int) -> Int { value > 0 ? value : memoryBytes }
}

/// Local argument validation (spec §12.2 item 2).
enum Validate {
    /// The largest payload the protocol carries in one packet (spec §6: 2^31−1 bytes).
    static let maximumPayloadBytes = 2_147_483_647

    /// A cluster or topic name: 1 to 255 bytes of UTF-8 (`OverlayLimits.nameBytes`, the bound
    /// every relay and the directory enforce too).
    static func name(_ name: String, _ what: String) throws(PlexusError) -> ByteBuffer {
        guard !name.isEmpty else { throw .invalidArgument("empty \(what) name") }
        let byteCount = name.utf8.count
        guard byteCount <= OverlayLimits.nameBytes.upperBound else {
            throw .limitExceeded("\(what) name size in bytes (\(byteCount))", limit: OverlayLimits.nameBytes.upperBound)
        }
        return ByteBuffer(string: name)
    }

    static func payload(_ payload: ByteBuffer, _ what: String) throws(PlexusError) {
        guard payload.readableBytes > 0 else { throw .invalidArgument("empty \(what)") }
        guard payload.readableBytes <= maximumPayloadBytes else {
            throw .limitExceeded("\(what) size in bytes", limit: maximumPayloadBytes)
        }
    }

    /// Whole milliseconds by truncation, 1 … 2^31−1.
    static func milliseconds(_ timeout: Duration) throws(PlexusError) -> UInt64 {
        let (seconds, attoseconds) = timeout.components
        guard seconds >= 0, seconds <= 2_147_484 else { throw .invalidArgument("timeout \(timeout) out of range") }
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        guard ms >= 1 else { throw .invalidArgument("timeout \(timeout) is below 1 ms") }
        guard ms <= 2_147_483_647 else { throw .invalidArgument("timeout \(timeout) exceeds 2^31-1 ms") }
        return UInt64(ms)
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        if seconds >= Int64.max / 1_000_000_000 - 1 { return .hours(24 * 365) }
        return .nanoseconds(max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
    }
}
