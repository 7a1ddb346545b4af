import CSodium

/// The short, public, one-way identifier of a cluster key: 8 bytes of a subkey derived from it
/// (`ClusterKey.derivation`), shown by `plexus status` and carried in directory claims and sealed
/// payloads so that relays can compare keys and a receiver picks the right one.
///
/// Guarantees: computing it needs the key; recovering any of the key from it is as hard as
/// inverting keyed BLAKE2b. It is not secret.
public struct ClusterKeyFingerprint: Hashable, Sendable, CustomStringConvertible {
    /// Length on the wire.
    public static let byteCount = 8
    /// The 8 bytes, big-endian.
    public let value: UInt64

    public init(value: UInt64) { self.value = value }

    /// Exactly 8 bytes; nil otherwise.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        value = bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The first 8 bytes of `bytes` (at most 8 are read), big-endian.
    init(bigEndian bytes: UnsafeRawBufferPointer) {
        value = bytes.prefix(Self.byteCount).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The 8 bytes, big-endian.
    public var bytes: [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> UInt64(56 - 8 * $0)) } }

    /// 16 lower-case hex digits.
    public var description: String { hexString(bytes) }
}

/// A 32-byte per-cluster (or per-topic) key, the same file format as the network key
/// (`plexus keygen`). Four independent subkeys are derived from it with libsodium's
/// `crypto_kdf_derive_from_key` (keyed BLAKE2b), context `"plexusck"`:
///
/// | subkey id | use |
/// |---|---|
/// | 1 | claim proofs (`ClaimProof`), keyed BLAKE2b |
/// | 2 | sealing (`SealedEnvelope`), XChaCha20-Poly1305 |
/// | 3 | the fingerprint: its first 8 bytes |
/// | 4 | AES-256-GCM sealing (`FastSealState`): the base of every sender epoch's key |
///
/// Guarantees: distinct from every other key type; never printed (its description shows the
/// fingerprint only); the key and its subkeys live in `SecretBytes`, wiped when the last reference
/// goes away; compared in constant time.
public struct ClusterKey: Sendable, CustomStringConvertible {
    /// Length of a cluster key in bytes.
    public static let byteCount = 32
    /// The `crypto_kdf` context of every subkey.
    public static let derivationContext = "plexusck"
    /// Subkey ids under `derivationContext`.
    public enum Subkey: UInt64, Sendable { case proof = 1, seal = 2, fingerprint = 3, fastSeal = 4 }

    let secret: SecretBytes
    let proofKey: SecretBytes
    let sealKey: XChaChaKey
    let fastSealKey: SecretBytes
    /// The key's public fingerprint.
    public let fingerprint: ClusterKeyFingerprint

    /// Wraps exactly 32 bytes; throws `invalidKeyLength` otherwise.
    public init(bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count == Self.byteCount else {
            throw CryptoError.invalidKeyLength(expected: Self.byteCount, actual: bytes.count, context: "cluster key")
        }
        self.init(secret: SecretBytes(copying: bytes))
    }

    /// Convenience for tests and vectors (the caller's array is not wiped).
    public init(bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try ClusterKey(bytes: $0) }
    }

    /// A fresh random key.
    public static func generate() -> ClusterKey { ClusterKey(secret: .random(count: byteCount)) }

    private init(secret: SecretBytes) {
        self.secret = secret
        proofKey = Self.derive(.proof, from: secret)
        sealKey = XChaChaKey(secret: Self.derive(.seal, from: secret))
        fastSealKey = Self.derive(.fastSeal, from: secret)
        let print = Self.derive(.fingerprint, from: secret)
        fingerprint = print.withUnsafeBytes { ClusterKeyFingerprint(bigEndian: UnsafeRawBufferPointer(rebasing: $0.prefix(8))) }
    }

    /// Loads a key file (one line of base64, mode 0600: the network-key rules). Errors name the
    /// file and say how to fix it.
    public static func load(from path: String) throws -> ClusterKey {
        let text = try SecretFile.read(path)
        let secret = try text.withUnsafeBytes {
            try Base64Key.decode($0, expectedLength: byteCount, context: "cluster key file \(path)")
        }
        return ClusterKey(secret: secret)
    }

    /// Constant-time equality of the keys.
    public func constantTimeEquals(_ other: ClusterKey) -> Bool { secret.constantTimeEquals(other.secret) }

    public var description: String { "ClusterKey(fingerprint: \(fingerprint))" }

    private static func derive(_ subkey: Subkey, from key: SecretBytes) -> SecretBytes {
        Sodium.ensureInitialized()
        let context = Array(derivationContext.utf8).map { CChar(bitPattern: $0) }
        return SecretBytes(count: 32) { out in
            key.withUnsafeBytes { master in
                _ = crypto_kdf_derive_from_key(out.baseAddress!.assumingMemoryBound(to: UInt8.self), 32, subkey.rawValue,
                                               context, master.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
    }
}
