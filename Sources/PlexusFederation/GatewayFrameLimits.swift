import PlexusPeerWire

/// The maximum a `GatewayFrameDecoder` accepts for every variable-length field and count.
///
/// Guarantees: a frame that announces a longer field or more entries is rejected with
/// `GatewayFrameError.lengthOverLimit` before any of it is read. The defaults keep every frame
/// below the session's 64 MiB application-frame limit.
public struct GatewayFrameLimits: Sendable, Hashable {
    /// Largest request payload, reply, fault, broadcast message or event (as between relays).
    public var maxMessageBytes: Int
    /// Largest cluster or topic name (relay protocol v1: 1 KiB).
    public var maxNameBytes: Int
    /// Largest failure reason in a REPLY.
    public var maxReasonBytes: Int
    /// Most changes in one INTEREST frame.
    public var maxInterestChanges: Int
    /// Largest tunnel chunk and chunk limit (as between relays: 1 MiB).
    public var maxChunkBytes: Int

    public init(maxMessageBytes: Int = PeerFrameLimits.sessionFrameBytes - PeerFrameLimits.headroom,
                maxNameBytes: Int = 1024, maxReasonBytes: Int = 64 * 1024, maxInterestChanges: Int = 16 * 1024,
                maxChunkBytes: Int = PeerFrameLimits.default.maxChunkBytes) {
        self.maxMessageBytes = maxMessageBytes
        self.maxNameBytes = maxNameBytes
        self.maxReasonBytes = maxReasonBytes
        self.maxInterestChanges = maxInterestChanges
        self.maxChunkBytes = maxChunkBytes
    }

    /// The defaults described on each property.
    public static let `default` = GatewayFrameLimits()

    /// Longest varint accepted: 10 bytes hold any 64-bit value.
    public static let maxVarintBytes = 10
    /// Protocol version this code speaks in HELLO.
    public static let protocolVersion: UInt8 = 1
}
