#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A relay's long-term X25519 identity (the Noise static key pair) and the node ID
/// derived from it.
///
/// Guarantees: `loadOrCreate` returns the same identity (and node ID) on every start
/// with the same data directory; the private key file is mode 0600 and is created
/// atomically; the private key is wiped when released.
public struct StaticIdentity: Sendable {
    /// Name of the private key file inside the data directory.
    public static let fileName = "node-identity.key"

    /// The static key pair used in the Noise handshake.
    public let keyPair: X25519KeyPair
    /// The node ID derived from `keyPair.publicKey`.
    public let nodeID: NodeID

    /// Wraps an existing key pair.
    public init(keyPair: X25519KeyPair) {
        self.keyPair = keyPair
        self.nodeID = NodeID(staticPublicKey: keyPair.publicKey)
    }

    /// A throw-away identity (for `--dev` and tests); nothing is written to disk.
    public static func ephemeral() -> StaticIdentity { StaticIdentity(keyPair: .generate()) }

    /// Loads `<dataDirectory>/node-identity.key`, creating it (and the directory, mode 0700)
    /// on first start. Refuses an existing file with loose permissions or bad contents.
    public static func loadOrCreate(dataDirectory: String) throws -> StaticIdentity {
        if mkdir(dataDirectory, 0o700) != 0 && errno != EEXIST {
            throw CryptoError.ioFailure(path: dataDirectory, operation: "creating data directory", errno: errno)
        }
        let path = dataDirectory.hasSuffix("/") ? dataDirectory + fileName : dataDirectory + "/" + fileName
        do {
            return try load(from: path)
        } catch let error as CryptoError where error.code == .fileNotFound {
            let privateKey = X25519PrivateKey.generate()
            var text = Base64Key.encode(privateKey.secret)
            text.append(0x0a)
            defer { wipe(&text) }
            do {
                try SecretFile.write(text, to: path, overwrite: false)
            } catch let error as CryptoError where error.code == .fileExists {
                return try load(from: path) // another process won the race
            }
            return StaticIdentity(keyPair: X25519KeyPair(privateKey: privateKey))
        }
    }

    /// Loads a static private key file (one line of base64, 32 bytes, mode 0600).
    public static func load(from path: String) throws -> StaticIdentity {
        let text = try SecretFile.read(path)
        let secret = try text.withUnsafeBytes {
            try Base64Key.decode($0, expectedLength: X25519PrivateKey.byteCount, context: "static identity file \(path)")
        }
        let privateKey = try secret.withUnsafeBytes { try X25519PrivateKey(bytes: $0) }
        return StaticIdentity(keyPair: X25519KeyPair(privateKey: privateKey))
    }
}
