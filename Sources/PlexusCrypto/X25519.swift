import CSodium

/// An X25519 public key (32 bytes). Not secret; compared in constant time anyway.
public struct X25519PublicKey: Sendable, Hashable, CustomStringConvertible {
    /// Length of an X25519 public key in bytes.
    public static let byteCount = 32
    /// The raw key bytes.
    public let bytes: [UInt8]

    /// Wraps exactly 32 bytes; throws `invalidKeyLength` otherwise.
    public init<C: Collection>(bytes: C) throws where C.Element == UInt8 {
        guard bytes.count == Self.byteCount else {
            throw CryptoError.invalidKeyLength(expected: Self.byteCount, actual: bytes.count, context: "X25519 public key")
        }
        self.bytes = Array(bytes)
    }

    public var description: String { hexString(bytes) }
}

/// An X25519 private key (32 secret bytes). Wiped on release, never printed.
public struct X25519PrivateKey: Sendable, CustomStringConvertible {
    /// Length of an X25519 private key in bytes.
    public static let byteCount = 32
    /// The secret scalar.
    public let secret: SecretBytes

    /// Wraps exactly 32 bytes; throws `invalidKeyLength` otherwise.
    public init(bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count == Self.byteCount else {
            throw CryptoError.invalidKeyLength(expected: Self.byteCount, actual: bytes.count, context: "X25519 private key")
        }
        secret = SecretBytes(copying: bytes)
    }

    /// Convenience for vectors and tests.
    public init(bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try X25519PrivateKey(bytes: $0) }
    }

    /// A fresh random private key.
    public static func generate() -> X25519PrivateKey {
        X25519PrivateKey(secret: .random(count: byteCount))
    }

    private init(secret: SecretBytes) { self.secret = secret }

    /// The matching public key (`crypto_scalarmult_base`).
    public var publicKey: X25519PublicKey {
        var out = [UInt8](repeating: 0, count: X25519PublicKey.byteCount)
        secret.withUnsafeBytes { sk in
            _ = crypto_scalarmult_base(&out, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        // Cannot throw: `out` has exactly X25519PublicKey.byteCount bytes.
        return try! X25519PublicKey(bytes: out)
    }

    /// Diffie-Hellman (`crypto_scalarmult`). Throws `weakPublicKey` if the result is all
    /// zeros (libsodium's check for low-order points).
    public func sharedSecret(with peer: X25519PublicKey) throws -> SecretBytes {
        try SecretBytes(count: 32) { out in
            let rc = secret.withUnsafeBytes { sk in
                peer.bytes.withUnsafeBufferPointer { pk in
                    crypto_scalarmult(out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                      sk.baseAddress!.assumingMemoryBound(to: UInt8.self), pk.baseAddress!)
                }
            }
            guard rc == 0 else { throw CryptoError.weakPublicKey }
        }
    }

    public var description: String { "X25519PrivateKey(<redacted>)" }
}

/// A private key with its public key, e.g. a relay's static identity or a Noise ephemeral.
public struct X25519KeyPair: Sendable {
    public let privateKey: X25519PrivateKey
    public let publicKey: X25519PublicKey

    /// Derives the public key from `privateKey`.
    public init(privateKey: X25519PrivateKey) {
        self.privateKey = privateKey
        self.publicKey = privateKey.publicKey
    }

    /// A fresh random key pair.
    public static func generate() -> X25519KeyPair { X25519KeyPair(privateKey: .generate()) }
}
