/// Why a gateway frame was rejected: a stable `code` and a `message` naming the field.
///
/// Guarantees: the decoder throws exactly one of these for any byte string that is not a valid
/// frame; it never traps and never reads past the frame.
public struct GatewayFrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Stable machine-readable category.
    public enum Code: String, Hashable, Sendable {
        case emptyFrame
        case unknownFrameType
        case truncated
        case varintTooLong
        case lengthOverLimit
        case invalidByte
        case mustNotBeEmpty
        case invalidText
        case trailingBytes
    }

    public let code: Code
    public let message: String
    public var description: String { message }

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public static let emptyFrame = GatewayFrameError(.emptyFrame, "empty gateway frame (no type byte)")

    public static func unknownFrameType(_ byte: UInt8) -> GatewayFrameError {
        GatewayFrameError(.unknownFrameType, "unknown gateway frame type 0x\(String(byte, radix: 16))")
    }

    public static func truncated(field: String) -> GatewayFrameError {
        GatewayFrameError(.truncated, "gateway frame ends inside field '\(field)'")
    }

    public static func varintTooLong(field: String) -> GatewayFrameError {
        GatewayFrameError(.varintTooLong, "varint in field '\(field)' is longer than 10 bytes or overflows 64 bits")
    }

    public static func lengthOverLimit(field: String, length: UInt64, limit: Int) -> GatewayFrameError {
        GatewayFrameError(.lengthOverLimit, "field '\(field)' announces \(length), over the limit of \(limit)")
    }

    public static func invalidByte(_ byte: UInt8, field: String) -> GatewayFrameError {
        GatewayFrameError(.invalidByte, "invalid value 0x\(String(byte, radix: 16)) in field '\(field)'")
    }

    public static func mustNotBeEmpty(field: String) -> GatewayFrameError {
        GatewayFrameError(.mustNotBeEmpty, "field '\(field)' must not be empty")
    }

    public static func invalidText(field: String) -> GatewayFrameError {
        GatewayFrameError(.invalidText, "field '\(field)' is not valid UTF-8 or not a valid name")
    }

    public static func trailingBytes(count: Int) -> GatewayFrameError {
        GatewayFrameError(.trailingBytes, "\(count) bytes after the last field of the gateway frame")
    }
}
