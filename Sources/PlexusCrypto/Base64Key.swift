import CSodium

/// Base64 (standard alphabet, with padding) via libsodium, so key material never goes
/// through general-purpose string APIs that may keep copies.
enum Base64Key {
    /// Hard upper bound on the text of a key file we are willing to read.
    static let maximumEncodedLength = 512

    static func encode(_ secret: SecretBytes) -> [UInt8] {
        let capacity = ((secret.count + 2) / 3) * 4 + 1
        var out = [CChar](repeating: 0, count: capacity)
        secret.withUnsafeBytes { bin in
            _ = sodium_bin2base64(&out, capacity, bin.baseAddress!.assumingMemoryBound(to: UInt8.self), bin.count,
                                  sodium_base64_VARIANT_ORIGINAL)
        }
        let text = out.prefix(capacity - 1).map { UInt8(bitPattern: $0) }
        wipeCChars(&out)
        return text
    }

    /// Decodes exactly `expectedLength` bytes, ignoring surrounding whitespace.
    static func decode(_ text: UnsafeRawBufferPointer, expectedLength: Int, context: String) throws -> SecretBytes {
        var start = 0, end = text.count
        while start < end, isSpace(text[start]) { start += 1 }
        while end > start, isSpace(text[end - 1]) { end -= 1 }
        let trimmed = UnsafeRawBufferPointer(rebasing: text[start..<end])
        guard !trimmed.isEmpty else {
            throw CryptoError.invalidEncoding("\(context) is empty; expected one line of base64 (\(expectedLength) bytes); regenerate it with `plexus keygen --out FILE`")
        }
        // Room for more than expected so that an over-long key is reported as a length error.
        let capacity = trimmed.count
        var decodedLength = 0
        let decoded = try SecretBytes(count: capacity) { out in
            let rc = sodium_base642bin(out.baseAddress!.assumingMemoryBound(to: UInt8.self), capacity,
                                       trimmed.baseAddress!.assumingMemoryBound(to: CChar.self), trimmed.count,
                                       nil, &decodedLength, nil, sodium_base64_VARIANT_ORIGINAL)
            guard rc == 0 else {
                throw CryptoError.invalidEncoding("\(context) is not valid base64; expected one line of base64 encoding \(expectedLength) bytes; regenerate it with `plexus keygen --out FILE`")
            }
        }
        guard decodedLength == expectedLength else {
            throw CryptoError.invalidKeyLength(expected: expectedLength, actual: decodedLength,
                                               context: "\(context) has the wrong length (regenerate it with `plexus keygen --out FILE`)")
        }
        return decoded.withUnsafeBytes { SecretBytes(copying: UnsafeRawBufferPointer(rebasing: $0.prefix(expectedLength))) }
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0a || byte == 0x0d || byte == 0x09 }

    private static func wipeCChars(_ chars: inout [CChar]) {
        chars.withUnsafeMutableBytes { SecretBytes.wipe($0) }
    }
}
