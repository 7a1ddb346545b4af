/// The maximum a `PeerFrameDecoder` accepts for every variable-length field, in bytes.
///
/// Guarantees: a frame that announces a longer field is rejected with
/// `PeerFrameError.lengthOverLimit` before any of the field is read. The defaults keep every
/// frame below the session's 64 MiB application-frame limit: a 64 MiB client payload plus a
/// 1 KiB name and a few varints would not fit, so the message limit leaves `headroom` for them.
public struct PeerFrameLimits: Sendable, Hashable {
    /// Room reserved for type byte, ids, varint lengths and a name: 4 KiB.
    public static let headroom = 4 * 1024
    /// Largest application frame a session carries (64 MiB, `Docs/session-protocol.md`).
    public static let sessionFrameBytes = 64 * 1024 * 1024

    /// Largest request payload, reply payload, fault, broadcast message or event.
    public var maxMessageBytes: Int
    /// Largest cluster or topic name (same as relay protocol v1: 1 KiB).
    public var maxNameBytes: Int
    /// Largest refuse or close reason, or failure reason.
    public var maxReasonBytes: Int
    /// Largest tunnel chunk (a relay's chunk limit L is at most this).
    public var maxChunkBytes: Int

    public init(
        maxMessageBytes: Int = PeerFrameLimits.sessionFrameBytes - PeerFrameLimits.headroom,
        maxNameBytes: Int = 1024,
        maxReasonBytes: Int = 64 * 1024,
        maxChunkBytes: Int = 1024 * 1024
    ) {
        self.maxMessageBytes = maxMessageBytes
        self.maxNameBytes = maxNameBytes
        self.maxReasonBytes = maxReasonBytes
        self.maxChunkBytes = maxChunkBytes
    }

    /// The defaults described on each property.
    public static let `default` = PeerFrameLimits()

    /// Longest varint accepted: 10 bytes hold any 64-bit value.
    public static let maxVarintBytes = 10
}
