import NIOCore

/// Reads the primitive fields of spec §2 from a buffer, enforcing a limit on every length.
///
/// Every read returns `nil` when the buffer does not yet hold the whole field (the caller then
/// waits for more bytes and parses the packet again from its start), and throws `WireError` when
/// the bytes can never become valid. Binary fields come back as slices: no payload is copied.
struct FieldReader {
    var buffer: ByteBuffer

    mutating func readByte() -> UInt8? {
        buffer.readInteger(as: UInt8.self)
    }

    mutating func readVarint(field: StaticString) throws(WireError) -> UInt64? {
        var value: UInt64 = 0
        var index = buffer.readerIndex
        let end = buffer.writerIndex
        for position in 0..<WireLimits.maxVarintBytes {
            guard index < end, let byte = buffer.getInteger(at: index, as: UInt8.self) else { return nil }
            index += 1
            let group = UInt64(byte & 0x7f)
            if position == WireLimits.maxVarintBytes - 1 && (byte & 0x80 != 0 || group > 1) {
                throw .varintTooLong(field: field)
            }
            value |= group << UInt64(7 * position)
            if byte & 0x80 == 0 {
                buffer.moveReaderIndex(to: index)
                return value
            }
        }
        throw .varintTooLong(field: field)
    }

    mutating func readBool(field: StaticString) throws(WireError) -> Bool? {
        guard let byte = buffer.readInteger(as: UInt8.self) else { return nil }
        switch byte {
        case 0: return false
        case 1: return true
        default: throw .invalidBool(byte, field: field)
        }
    }

    /// Reads a `binary`/`string` field whose length must not exceed `limit`.
    mutating func readBytes(field: StaticString, limit: Int) throws(WireError) -> ByteBuffer? {
        guard let length = try readVarint(field: field) else { return nil }
        guard length <= UInt64(limit) else {
            throw .lengthOverLimit(field: field, length: length, limit: limit)
        }
        return buffer.readSlice(length: Int(length))
    }

    /// Reads a string field that must equal `expected` byte-for-byte.
    mutating func expectMagic(_ expected: String, limit: Int) throws(WireError) -> Bool? {
        guard let magic = try readBytes(field: "magic", limit: limit) else { return nil }
        guard magic.readableBytesView.elementsEqual(expected.utf8) else {
            throw .badMagic(expected: expected)
        }
        return true
    }
}
