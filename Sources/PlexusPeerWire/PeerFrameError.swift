/// Why a peer frame was rejected: the project's one error style, a stable `code` and a `message`
/// that names the field concerned.
///
/// Guarantees: the decoder throws exactly one of these for any byte string that is not a valid
/// frame; it never traps and never reads past the frame.
public struct PeerFrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Stable machine-readable category.
    public enum Code: String, Hashable, Sendable {
        case emptyFrame
        case unknownFrameType
        case truncated
        case varintTooLong
        case lengthOverLimit
        case invalidByte
        case mustNotBeEmpty
        case trailingBytes
    }

    public let code: Code
    public let message: String
    public var description: String { message }

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The frame is empty (no type byte).
    public static let emptyFrame = PeerFrameError(.emptyFrame, "empty peer frame (no type byte)")

    /// The type byte names no frame type.
    public static func unknownFrameType(_ byte: UInt8) -> PeerFrameError {
        PeerFrameError(.unknownFrameType, "unknown peer frame type 0x\(String(byte, radix: 16))")
    }

    /// The frame ends inside `field`.
    public static func truncated(field: String) -> PeerFrameError {
        PeerFrameError(.truncated, "peer frame ends inside field '\(field)'")
    }

    /// A varint in `field` is longer than 10 bytes or overflows 64 bits.
    public static func varintTooLong(field: String) -> PeerFrameError {
        PeerFrameError(.varintTooLong, "varint in field '\(field)' is longer than 10 bytes or overflows 64 bits")
    }

    /// `field` announces more bytes than the limit allows.
    public static func lengthOverLimit(field: String, length: UInt64, limit: Int) -> PeerFrameError {
        PeerFrameError(.lengthOverLimit, "field '\(field)' announces \(length) bytes, over the limit of \(limit)")
    }

    /// A one-byte enumeration or bool in `field` holds a value it cannot have.
    public static func invalidByte(_ byte: UInt8, field: String) -> PeerFrameError {
        PeerFrameError(.invalidByte, "invalid value 0x\(String(byte, radix: 16)) in field '\(field)'")
    }

    /// `field` must not be zero / empty but is.
    public static func mustNotBeEmpty(field: String) -> PeerFrameError {
        PeerFrameError(.mustNotBeEmpty, "field '\(field)' must not be empty or zero")
    }

    /// Bytes remain after the last field.
    public static func trailingBytes(count: Int) -> PeerFrameError {
        PeerFrameError(.trailingBytes, "\(count) bytes after the last field of the peer frame")
    }
}
