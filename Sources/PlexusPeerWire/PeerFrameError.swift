/// Why a peer frame was rejected. Every case names the field it concerns.
///
/// Guarantees: the decoder throws exactly one of these for any byte string that is not a valid
/// frame; it never traps and never reads past the frame.
public enum PeerFrameError: Error, Equatable, Sendable {
    /// The frame is empty (no type byte).
    case emptyFrame
    /// The type byte names no frame type.
    case unknownFrameType(UInt8)
    /// The frame ends inside `field`.
    case truncated(field: String)
    /// A varint in `field` is longer than 10 bytes or overflows 64 bits.
    case varintTooLong(field: String)
    /// `field` announces more bytes than the limit allows.
    case lengthOverLimit(field: String, length: UInt64, limit: Int)
    /// A one-byte enumeration or bool in `field` holds a value it cannot have.
    case invalidByte(UInt8, field: String)
    /// `field` must not be zero / empty but is.
    case mustNotBeEmpty(field: String)
    /// Bytes remain after the last field.
    case trailingBytes(count: Int)
}
