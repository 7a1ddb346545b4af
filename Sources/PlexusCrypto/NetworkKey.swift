/// The 32-byte key shared by all relays of one overlay; used as the Noise PSK.
///
/// Guarantees: distinct from every other key type, never printed (its description is
/// redacted), wiped from memory when the last reference goes away, compared in constant time.
public struct NetworkKey: Sendable, CustomStringConvertible {
    /// Length of a network key in bytes.
    public static let byteCount = 32

    /// The secret bytes.
    public let secret: SecretBytes

    /// Wraps exactly 32 bytes. Throws `invalidKeyLength` for any other length.
    public init(bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count == Self.byteCount else {
            throw CryptoError.invalidKeyLength(expected: Self.byteCount, actual: bytes.count, context: "network key")
        }
        secret = SecretBytes(copying: bytes)
    }

    /// Convenience for tests and vectors: wraps a byte array (the caller's array is not wiped).
    public init(bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try NetworkKey(bytes: $0) }
    }

    /// A fresh random key from libsodium's CSPRNG.
    public static func generate() -> NetworkKey {
        NetworkKey(secret: .random(count: byteCount))
    }

    private init(secret: SecretBytes) { self.secret = secret }

    /// A short non-secret fingerprint (first 8 hex digits of BLAKE2b-512 of the key) for logs.
    public var fingerprint: String {
        let digest = secret.withUnsafeBytes { Blake2b.hash($0) }
        return digest.prefix(4).map { String(format2hex: $0) }.joined()
    }

    /// Constant-time equality.
    public func constantTimeEquals(_ other: NetworkKey) -> Bool { secret.constantTimeEquals(other.secret) }

    public var description: String { "NetworkKey(fingerprint: \(fingerprint))" }
}

extension String {
    init(format2hex byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
    }
}

/// Hex encoding of arbitrary bytes (lower case).
public func hexString<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
    bytes.map { String(format2hex: $0) }.joined()
}
