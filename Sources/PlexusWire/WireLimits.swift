/// The maximum length a decoder accepts for every variable-length field of relay protocol v1.
///
/// The protocol itself has no maximum (spec §2); these caps protect a relay or binding from a
/// peer that announces absurd lengths. Exceeding any of them is a `WireError` that closes only
/// the offending connection. All values are in bytes.
public struct WireLimits: Sendable, Hashable {
    /// Largest request, reply, broadcast or event payload (default 64 MiB).
    public var maxMessageBytes: Int
    /// Largest cluster or topic name (default 1 KiB).
    public var maxNameBytes: Int
    /// Largest fault text, close reason or deny reason (default 64 KiB).
    public var maxReasonBytes: Int
    /// Largest magic or version string in a handshake packet (default 64 B).
    public var maxHandshakeFieldBytes: Int
    /// Largest single tunnel chunk (default 64 MiB; a relay sets this to its chunk limit L).
    public var maxChunkBytes: Int

    public init(
        maxMessageBytes: Int = 64 * 1024 * 1024,
        maxNameBytes: Int = 1024,
        maxReasonBytes: Int = 64 * 1024,
        maxHandshakeFieldBytes: Int = 64,
        maxChunkBytes: Int = 64 * 1024 * 1024
    ) {
        self.maxMessageBytes = maxMessageBytes
        self.maxNameBytes = maxNameBytes
        self.maxReasonBytes = maxReasonBytes
        self.maxHandshakeFieldBytes = maxHandshakeFieldBytes
        self.maxChunkBytes = maxChunkBytes
    }

    /// The defaults described on each property.
    public static let `default` = WireLimits()

    /// Longest varint encoding accepted: 10 bytes hold any 64-bit value.
    public static let maxVarintBytes = 10
}
