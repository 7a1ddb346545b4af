/// Constants of the Iris relay protocol `v1.0-draft2` (spec Appendix A).
///
/// Every value here is fixed by the protocol; changing one breaks compatibility with the
/// existing Go, Java and Erlang bindings.
public enum WireConstants {
    /// The only protocol version this codec speaks.
    public static let protocolVersion = "v1.0-draft2"
    /// Magic a client sends in its INIT.
    public static let clientMagic = "iris-client-magic"
    /// Magic a relay sends in INIT (accept) and DENY.
    public static let relayMagic = "iris-relay-magic"
    /// Default relay port on loopback.
    public static let defaultPort = 55555
    /// Tunnel chunk limit the reference relay dictates (L).
    public static let referenceChunkLimit = 65_536
    /// Relay tunnel window per direction (W): initial grant and per-direction buffer bound.
    public static let referenceRelayWindow = 4_194_304
    /// Initial allowance every binding grants per tunnel (64 MiB).
    public static let bindingTunnelBuffer = 67_108_864
    /// Largest value the Java binding can hold in sizes, allowances and timeouts (2^31 − 1).
    public static let maxInteroperableValue: UInt64 = 2_147_483_647

    /// The DENY reason text the reference relay sends for an unsupported version.
    public static func unsupportedVersionReason(clientVersion: String) -> String {
        "Unsupported protocol. Client: \(clientVersion). Iris: \(protocolVersion)."
    }
}

/// The one-byte opcodes of relay protocol v1 (spec §3). The same opcode has different layouts
/// in the two directions; see `ClientPacket` and `RelayPacket`.
public enum Opcode: UInt8, Sendable, CaseIterable {
    case initiate = 0x00
    case deny = 0x01
    case close = 0x02
    case broadcast = 0x03
    case request = 0x04
    case reply = 0x05
    case subscribe = 0x06
    case unsubscribe = 0x07
    case publish = 0x08
    case tunnelInit = 0x09
    case tunnelConfirm = 0x0a
    case tunnelAllow = 0x0b
    case tunnelTransfer = 0x0c
    case tunnelClose = 0x0d
}
