import PlexusCrypto

/// The CipherFunctions of a Noise suite (spec section 12.3 names both): the cipher part of
/// `Noise_<pattern>_25519_<cipher>_BLAKE2b`.
///
/// Guarantees: the raw value is the exact name the protocol name uses, so two sides that pick
/// different ciphers derive different handshake hashes and fail the first tag they check (no
/// silent mismatch). `chaChaPoly` runs everywhere and is the mandatory fallback; `aesGCM` only
/// where the CPU has AES-NI and PCLMUL (`isAvailable`; libsodium has no software AES-GCM).
public enum NoiseCipher: String, Sendable, Hashable, CaseIterable {
    /// ChaCha20-Poly1305 (IETF), nonce = 4 zero bytes ‖ counter little-endian.
    case chaChaPoly = "ChaChaPoly"
    /// AES-256-GCM, nonce = 4 zero bytes ‖ counter big-endian.
    case aesGCM = "AESGCM"

    /// Whether this machine can run the cipher.
    public var isAvailable: Bool {
        switch self {
        case .chaChaPoly: true
        case .aesGCM: AESGCM.isAvailable
        }
    }

    /// The suite part of the protocol name: `25519_<cipher>_BLAKE2b`.
    public var suite: String { "25519_\(rawValue)_BLAKE2b" }

    /// The faster cipher this machine can run: AESGCM with hardware AES, else ChaChaPoly.
    public static var preferred: NoiseCipher { AESGCM.isAvailable ? .aesGCM : .chaChaPoly }
}
