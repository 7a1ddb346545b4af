import NIOCore

extension ByteBuffer {
    /// Appends `value` as a minimal varint (least significant 7-bit group first). Returns the byte count.
    @discardableResult
    @inlinable
    public mutating func writeVarint(_ value: UInt64) -> Int {
        var remaining = value
        var written = 0
        while remaining > 0x7f {
            written += writeInteger(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        written += writeInteger(UInt8(remaining))
        return written
    }

    /// Appends a `binary`/`string` field: varint length, then the readable bytes of `bytes`.
    @inlinable
    mutating func writeLengthPrefixed(_ bytes: ByteBuffer) {
        writeVarint(UInt64(bytes.readableBytes))
        writeImmutableBuffer(bytes)
    }

    /// Appends a `string` field holding the UTF-8 bytes of `text`.
    @inlinable
    mutating func writeLengthPrefixed(_ text: String) {
        writeVarint(UInt64(text.utf8.count))
        writeString(text)
    }

    @inlinable
    mutating func writeBool(_ value: Bool) {
        writeInteger(value ? 1 : 0 as UInt8)
    }

    /// The number of bytes `writeVarint(value)` appends.
    @inlinable
    public static func varintSize(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }
}
