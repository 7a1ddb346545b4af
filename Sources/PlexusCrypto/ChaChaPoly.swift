import CSodium

/// A 32-byte ChaCha20-Poly1305 key for one direction of a session (a Noise CipherState
/// key). Distinct from `NetworkKey` and X25519 keys; wiped on release.
public struct CipherKey: Sendable {
    /// Length of a cipher key in bytes.
    public static let byteCount = 32
    /// The secret key bytes.
    public let secret: SecretBytes

    /// Uses the first 32 bytes of `material` (Noise truncates HASHLEN outputs to 32 bytes).
    public init(truncating material: SecretBytes) {
        precondition(material.count >= Self.byteCount)
        secret = material.withUnsafeBytes { SecretBytes(copying: UnsafeRawBufferPointer(rebasing: $0.prefix(Self.byteCount))) }
    }

    /// Wraps exactly 32 bytes; throws `invalidKeyLength` otherwise.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == Self.byteCount else {
            throw CryptoError.invalidKeyLength(expected: Self.byteCount, actual: bytes.count, context: "cipher key")
        }
        secret = bytes.withUnsafeBytes { SecretBytes(copying: $0) }
    }

    init(secret: SecretBytes) { self.secret = secret }
}

/// ChaCha20-Poly1305 IETF AEAD (`crypto_aead_chacha20poly1305_ietf_*`) with the Noise
/// nonce layout: 4 zero bytes followed by the 64-bit counter in little-endian order.
///
/// Guarantees: in-place operation (ciphertext may overwrite plaintext and vice versa),
/// authentication failures throw and leave no plaintext behind.
public enum ChaChaPoly {
    /// Length of the Poly1305 tag appended to every ciphertext.
    public static let tagLength = 16
    /// Length of the IETF nonce.
    public static let nonceLength = 12

    /// Encrypts `buffer[0..<plaintextLength]` in place and appends the tag; `buffer` must
    /// have room for `plaintextLength + tagLength` bytes. Returns the ciphertext length.
    @inline(__always)
    public static func sealInPlace(key: CipherKey, counter: UInt64, associatedData: UnsafeRawBufferPointer,
                                   buffer: UnsafeMutableRawBufferPointer, plaintextLength: Int) -> Int {
        precondition(buffer.count >= plaintextLength + tagLength, "no room for the tag")
        var nonce = noise(counter)
        var written: UInt64 = 0
        let bytes = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        key.secret.withUnsafeBytes { k in
            withUnsafeBytes(of: &nonce) { n in
                _ = crypto_aead_chacha20poly1305_ietf_encrypt(
                    bytes, &written, bytes, UInt64(plaintextLength),
                    associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count),
                    nil, n.baseAddress!.assumingMemoryBound(to: UInt8.self), k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return Int(written)
    }

    /// Decrypts `buffer` (ciphertext followed by tag) in place. Returns the plaintext
    /// length (`buffer.count - tagLength`); throws `authenticationFailed` otherwise.
    @inline(__always)
    public static func openInPlace(key: CipherKey, counter: UInt64, associatedData: UnsafeRawBufferPointer,
                                   buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count >= tagLength else { throw CryptoError.authenticationFailed }
        var nonce = noise(counter)
        var written: UInt64 = 0
        let bytes = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let rc = key.secret.withUnsafeBytes { k in
            withUnsafeBytes(of: &nonce) { n in
                crypto_aead_chacha20poly1305_ietf_decrypt(
                    bytes, &written, nil, bytes, UInt64(buffer.count),
                    associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count),
                    n.baseAddress!.assumingMemoryBound(to: UInt8.self), k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard rc == 0 else { throw CryptoError.authenticationFailed }
        return Int(written)
    }

    /// Decrypts `ciphertext` (ciphertext || tag) into `plaintext`, which must hold at least
    /// `ciphertext.count - tagLength` bytes and may alias the ciphertext only exactly.
    /// Nothing is written to `plaintext` unless the tag verifies.
    @inline(__always)
    public static func open(key: CipherKey, counter: UInt64, associatedData: UnsafeRawBufferPointer,
                            ciphertext: UnsafeRawBufferPointer, into plaintext: UnsafeMutableRawBufferPointer) throws -> Int {
        guard ciphertext.count >= tagLength else { throw CryptoError.authenticationFailed }
        precondition(plaintext.count >= ciphertext.count - tagLength, "plaintext buffer too small")
        var nonce = noise(counter)
        var written: UInt64 = 0
        let rc = key.secret.withUnsafeBytes { k in
            withUnsafeBytes(of: &nonce) { n in
                crypto_aead_chacha20poly1305_ietf_decrypt(
                    plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), &written, nil,
                    ciphertext.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(ciphertext.count),
                    associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count),
                    n.baseAddress!.assumingMemoryBound(to: UInt8.self), k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard rc == 0 else { throw CryptoError.authenticationFailed }
        return Int(written)
    }

    /// Array convenience: returns ciphertext || tag.
    public static func seal(key: CipherKey, counter: UInt64, associatedData: [UInt8], plaintext: [UInt8]) -> [UInt8] {
        var out = plaintext + [UInt8](repeating: 0, count: tagLength)
        associatedData.withUnsafeBytes { ad in
            out.withUnsafeMutableBytes { _ = sealInPlace(key: key, counter: counter, associatedData: ad, buffer: $0, plaintextLength: plaintext.count) }
        }
        return out
    }

    /// Array convenience: returns the plaintext or throws `authenticationFailed`.
    public static func open(key: CipherKey, counter: UInt64, associatedData: [UInt8], ciphertext: [UInt8]) throws -> [UInt8] {
        var out = ciphertext
        let n = try associatedData.withUnsafeBytes { ad in
            try out.withUnsafeMutableBytes { try openInPlace(key: key, counter: counter, associatedData: ad, buffer: $0) }
        }
        out.removeLast(out.count - n)
        return out
    }

    /// Noise rekey: the first 32 bytes of ENCRYPT(k, 2^64-1, "", 32 zero bytes).
    public static func rekey(_ key: CipherKey) -> CipherKey {
        let scratch = SecretBytes(count: 32 + tagLength) { buffer in
            _ = sealInPlace(key: key, counter: .max, associatedData: UnsafeRawBufferPointer(start: nil, count: 0),
                            buffer: buffer, plaintextLength: 32)
        }
        return CipherKey(truncating: scratch)
    }

    /// The 12-byte IETF nonce: 4 zero bytes, then the counter as little-endian UInt64.
    /// Three UInt32 fields make a 12-byte tuple without padding.
    @inline(__always)
    static func noise(_ counter: UInt64) -> (UInt32, UInt32, UInt32) {
        (0, UInt32(truncatingIfNeeded: counter).littleEndian, UInt32(truncatingIfNeeded: counter >> 32).littleEndian)
    }
}
