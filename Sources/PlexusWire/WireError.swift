/// A violation of relay protocol v1 found while decoding: the project's one error style, a
/// stable `code` and a `message` in words a person can act on.
///
/// Packets carry no length prefix, so the stream cannot be resynchronised after any of these:
/// the receiver must close the connection (spec §3).
public struct WireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable machine-readable category.
    public enum Code: String, Sendable, Hashable {
        case unknownOpcode
        case invalidBool
        case lengthOverLimit
        case varintTooLong
        case badMagic
        case unsupportedVersion
    }

    public let code: Code
    public let message: String
    public var description: String { message }

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    static func unknownOpcode(_ byte: UInt8, direction: String) -> WireError {
        WireError(.unknownOpcode, "unknown opcode 0x\(String(byte, radix: 16)) in a \(direction) packet")
    }

    static func invalidBool(_ byte: UInt8, field: StaticString) -> WireError {
        WireError(.invalidBool, "invalid bool 0x\(String(byte, radix: 16)) in field '\(field)' (only 0x00 and 0x01 are allowed)")
    }

    static func lengthOverLimit(field: StaticString, length: UInt64, limit: Int) -> WireError {
        WireError(.lengthOverLimit, "field '\(field)' announces \(length) bytes, over the limit of \(limit) bytes")
    }

    static func varintTooLong(field: StaticString) -> WireError {
        WireError(.varintTooLong, "varint in field '\(field)' is longer than \(WireLimits.maxVarintBytes) bytes or overflows 64 bits")
    }

    static func badMagic(expected: String) -> WireError {
        WireError(.badMagic, "wrong magic: expected \"\(expected)\"; the peer does not speak the Iris relay protocol")
    }

    /// The peer speaks a protocol version this codec does not.
    public static func unsupportedVersion(_ version: String) -> WireError {
        WireError(.unsupportedVersion, WireConstants.unsupportedVersionReason(clientVersion: version))
    }
}
