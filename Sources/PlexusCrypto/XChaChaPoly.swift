import CSodium

/// A 32-byte XChaCha20-Poly1305 key (the gossip key derived from a network key). Distinct
/// from `NetworkKey` and `CipherKey`; wiped on release.
public struct XChaChaKey: Sendable {
    /// Length of a key in bytes.
    public static let byteCount = 32
    /// The secret key bytes.
    public let secret: SecretBytes

    /// Wraps exactly 32 bytes; throws `invalidKeyLength` otherwise.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == Self.byteCount else {
            throw CryptoError.invalidKeyLength(expected: Self.byteCount, actual: bytes.count, context: "xchacha key")
        }
        secret = bytes.withUnsafeBytes { SecretBytes(copying: $0) }
    }

    init(secret: SecretBytes) { self.secret = secret }

    /// The gossip key of a network key: BLAKE2b-256 keyed with the network key over `context`
    /// (default "plexus-gossip-v1"). Different contexts give independent keys.
    public static func derive(from networkKey: NetworkKey, context: String = "plexus-gossip-v1") -> XChaChaKey {
        Sodium.ensureInitialized()
        let message = Array(context.utf8)
        let secret = SecretBytes(count: byteCount) { out in
            networkKey.secret.withUnsafeBytes { key in
                _ = crypto_generichash(out.baseAddress!.assumingMemoryBound(to: UInt8.self), byteCount,
                                       message, UInt64(message.count),
                                       key.baseAddress!.assumingMemoryBound(to: UInt8.self), key.count)
            }
        }
        return XChaChaKey(secret: secret)
    }
}

/// XChaCha20-Poly1305 IETF AEAD (`crypto_aead_xchacha20poly1305_ietf_*`): 24-byte random
/// nonces, so a key can seal any number of independent messages without nonce bookkeeping.
///
/// Guarantees: `open` returns plaintext only when the tag verifies; otherwise it throws
/// `authenticationFailed` and returns nothing.
public enum XChaChaPoly {
    public static let tagLength = 16
    public static let nonceLength = 24

    /// 24 random bytes from libsodium's CSPRNG.
    public static func randomNonce() -> [UInt8] {
        Sodium.ensureInitialized()
        var nonce = [UInt8](repeating: 0, count: nonceLength)
        randombytes_buf(&nonce, nonceLength)
        return nonce
    }

    /// Returns ciphertext || tag.
    public static func seal(key: XChaChaKey, nonce: [UInt8], associatedData: [UInt8], plaintext: [UInt8]) -> [UInt8] {
        precondition(nonce.count == nonceLength, "XChaCha20-Poly1305 nonce must be 24 bytes")
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: plaintext.count + tagLength)
        var written: UInt64 = 0
        key.secret.withUnsafeBytes { k in
            _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                &out, &written, plaintext, UInt64(plaintext.count),
                associatedData, UInt64(associatedData.count), nil, nonce,
                k.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return out
    }

    /// Returns the plaintext of ciphertext || tag, or throws `authenticationFailed`.
    public static func open(key: XChaChaKey, nonce: [UInt8], associatedData: [UInt8],
                            ciphertext: some Collection<UInt8>) throws -> [UInt8] {
        guard nonce.count == nonceLength, ciphertext.count >= tagLength else { throw CryptoError.authenticationFailed }
        Sodium.ensureInitialized()
        let input = Array(ciphertext)
        var out = [UInt8](repeating: 0, count: input.count - tagLength)
        var written: UInt64 = 0
        let rc = key.secret.withUnsafeBytes { k in
            crypto_aead_xchacha20poly1305_ietf_decrypt(
                &out, &written, nil, input, UInt64(input.count),
                associatedData, UInt64(associatedData.count), nonce,
                k.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        guard rc == 0 else { throw CryptoError.authenticationFailed }
        return out
    }
}
