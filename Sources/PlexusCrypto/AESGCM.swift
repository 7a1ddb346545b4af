import CSodium

/// An AES-256-GCM key with its libsodium precomputation (`crypto_aead_aes256gcm_beforenm`: the
/// expanded key schedule and the GHASH table), for one direction of a session or one sealing key.
///
/// Guarantees: only constructible where the CPU has hardware AES and carry-less multiplication
/// (`AESGCM.isAvailable`; libsodium offers no software AES-GCM); the precomputed state lives in
/// 16-byte-aligned memory of this object alone and is wiped with `sodium_memzero` on release.
///
/// `@unchecked Sendable` is sound: the state is written only in `init` and read afterwards
/// (libsodium's `*_afternm` functions take it as `const`), so concurrent users cannot race;
/// `deinit` runs only when no other reference exists.
public final class AESGCMKey: @unchecked Sendable {
    /// Length of an AES-256 key in bytes.
    public static let byteCount = 32
    private let state: UnsafeMutableRawPointer
    private let stateByteCount: Int

    /// Expands the first 32 bytes of `secret`. Throws `invalidKeyLength` when it is shorter and
    /// `unsupported` when the CPU lacks AES-NI/PCLMUL.
    public init(secret: SecretBytes) throws {
        guard AESGCM.isAvailable else { throw CryptoError.aesGCMUnavailable() }
        guard secret.count >= Self.byteCount else {
            throw CryptoError.invalidKeyLength(expected: Self.byteCount, actual: secret.count, context: "AES-256-GCM key")
        }
        stateByteCount = crypto_aead_aes256gcm_statebytes()
        state = UnsafeMutableRawPointer.allocate(byteCount: stateByteCount, alignment: 16)
        state.initializeMemory(as: UInt8.self, repeating: 0, count: stateByteCount)
        secret.withUnsafeBytes { key in
            _ = crypto_aead_aes256gcm_beforenm(state.assumingMemoryBound(to: crypto_aead_aes256gcm_state.self),
                                               key.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// Wraps a `CipherKey` (a Noise CipherState key) for the AESGCM cipher functions.
    public convenience init(_ key: CipherKey) throws { try self.init(secret: key.secret) }

    deinit {
        sodium_memzero(state, stateByteCount)
        state.deallocate()
    }

    @inline(__always)
    var precomputed: UnsafePointer<crypto_aead_aes256gcm_state> {
        UnsafePointer(state.assumingMemoryBound(to: crypto_aead_aes256gcm_state.self))
    }
}

/// AES-256-GCM AEAD (`crypto_aead_aes256gcm_*_afternm`) with a caller-given 12-byte nonce.
///
/// Guarantees: in-place operation (ciphertext may overwrite plaintext and vice versa);
/// authentication failures throw and leave no plaintext behind. Callers own nonce uniqueness per
/// key: a repeated (key, nonce) pair breaks GCM completely, so use counters, never random 96-bit
/// nonces for long-lived keys. `noiseNonce(_:)` is the Noise AESGCM layout (32 zero bits, then
/// the counter big-endian).
public enum AESGCM {
    /// Length of the GCM tag appended to every ciphertext.
    public static let tagLength = 16
    /// Length of the nonce.
    public static let nonceLength = 12

    /// True when this CPU runs libsodium's AES-256-GCM (AES-NI and PCLMUL).
    public static let isAvailable: Bool = {
        Sodium.ensureInitialized()
        return crypto_aead_aes256gcm_is_available() == 1
    }()

    /// A 12-byte nonce as three 32-bit words in memory order (no padding).
    public typealias Nonce = (UInt32, UInt32, UInt32)

    /// The Noise AESGCM nonce: 4 zero bytes, then `counter` as big-endian UInt64.
    @inline(__always)
    public static func noiseNonce(_ counter: UInt64) -> Nonce {
        (0, UInt32(truncatingIfNeeded: counter >> 32).bigEndian, UInt32(truncatingIfNeeded: counter).bigEndian)
    }

    /// Encrypts `buffer[0..<plaintextLength]` in place and appends the tag; `buffer` must have
    /// room for `plaintextLength + tagLength` bytes. Returns the ciphertext length.
    @inline(__always)
    public static func sealInPlace(key: AESGCMKey, nonce: Nonce, associatedData: UnsafeRawBufferPointer,
                                   buffer: UnsafeMutableRawBufferPointer, plaintextLength: Int) -> Int {
        precondition(buffer.count >= plaintextLength + tagLength, "no room for the tag")
        var nonce = nonce
        var written: UInt64 = 0
        let bytes = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        withUnsafeBytes(of: &nonce) { n in
            _ = crypto_aead_aes256gcm_encrypt_afternm(
                bytes, &written, bytes, UInt64(plaintextLength),
                associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count),
                nil, n.baseAddress!.assumingMemoryBound(to: UInt8.self), key.precomputed)
        }
        return Int(written)
    }

    /// Decrypts `buffer` (ciphertext followed by tag) in place. Returns the plaintext length
    /// (`buffer.count - tagLength`); throws `authenticationFailed` otherwise.
    @inline(__always)
    public static func openInPlace(key: AESGCMKey, nonce: Nonce, associatedData: UnsafeRawBufferPointer,
                                   buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count >= tagLength else { throw CryptoError.authenticationFailed }
        var nonce = nonce
        var written: UInt64 = 0
        let bytes = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let rc = withUnsafeBytes(of: &nonce) { n in
            crypto_aead_aes256gcm_decrypt_afternm(
                bytes, &written, nil, bytes, UInt64(buffer.count),
                associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count),
                n.baseAddress!.assumingMemoryBound(to: UInt8.self), key.precomputed)
        }
        guard rc == 0 else { throw CryptoError.authenticationFailed }
        return Int(written)
    }

    /// Array convenience: returns ciphertext || tag.
    public static func seal(key: AESGCMKey, nonce: Nonce, associatedData: [UInt8], plaintext: [UInt8]) -> [UInt8] {
        var out = plaintext + [UInt8](repeating: 0, count: tagLength)
        associatedData.withUnsafeBytes { ad in
            out.withUnsafeMutableBytes { _ = sealInPlace(key: key, nonce: nonce, associatedData: ad, buffer: $0, plaintextLength: plaintext.count) }
        }
        return out
    }

    /// Array convenience: returns the plaintext or throws `authenticationFailed`.
    public static func open(key: AESGCMKey, nonce: Nonce, associatedData: [UInt8], ciphertext: [UInt8]) throws -> [UInt8] {
        var out = ciphertext
        let n = try associatedData.withUnsafeBytes { ad in
            try out.withUnsafeMutableBytes { try openInPlace(key: key, nonce: nonce, associatedData: ad, buffer: $0) }
        }
        out.removeLast(out.count - n)
        return out
    }
}
