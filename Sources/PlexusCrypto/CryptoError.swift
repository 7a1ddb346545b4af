/// The one error type of `PlexusCrypto`. Each case carries a human-readable message
/// that says what went wrong and, for operator-facing errors, what to do about it.
public struct CryptoError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Stable machine-readable category.
    public enum Code: String, Hashable, Sendable {
        case invalidKeyLength
        case invalidEncoding
        case authenticationFailed
        case weakPublicKey
        case inputTooLong
        case insecureFilePermissions
        case fileExists
        case fileNotFound
        case ioFailure
        case nonceExhausted
        /// A sealed payload (`SealedEnvelope`) is shorter than its header and tag, or of another format version.
        case malformedSealedPayload
        /// A sealed payload names a key fingerprint this relay does not hold for the name.
        case unknownClusterKey
        /// A cluster key option is malformed or inconsistent (`ClusterKeyring.load`).
        case invalidClusterKeyOption
        /// AES-256-GCM was asked for on a CPU without AES-NI/PCLMUL (`AESGCM.isAvailable`).
        case aesGCMUnavailable
    }

    public let code: Code
    public let message: String

    public var description: String { message }

    static func invalidKeyLength(expected: Int, actual: Int, context: String) -> CryptoError {
        CryptoError(code: .invalidKeyLength,
                    message: "\(context): expected \(expected) bytes, got \(actual)")
    }
    static func invalidEncoding(_ context: String) -> CryptoError {
        CryptoError(code: .invalidEncoding, message: context)
    }
    static let authenticationFailed = CryptoError(
        code: .authenticationFailed, message: "ciphertext failed authentication")
    static let weakPublicKey = CryptoError(
        code: .weakPublicKey, message: "X25519 produced an all-zero shared secret (low-order public key)")
    static func inputTooLong(_ context: String) -> CryptoError {
        CryptoError(code: .inputTooLong, message: context)
    }
    static func insecureFilePermissions(path: String, mode: UInt32) -> CryptoError {
        CryptoError(code: .insecureFilePermissions,
                    message: "key file \(path) has mode \(String(mode & 0o777, radix: 8)) and is accessible by group or others; run `chmod 600 \(path)`")
    }
    static func fileExists(path: String) -> CryptoError {
        CryptoError(code: .fileExists,
                    message: "\(path) already exists; refusing to overwrite a key (pass --force to replace it)")
    }
    static func fileNotFound(path: String) -> CryptoError {
        CryptoError(code: .fileNotFound,
                    message: "key file \(path) does not exist; create one with `plexus keygen --out \(path)`")
    }
    static func ioFailure(path: String, operation: String, errno: Int32) -> CryptoError {
        CryptoError(code: .ioFailure, message: "\(operation) \(path) failed (errno \(errno))")
    }
    static func aesGCMUnavailable() -> CryptoError {
        CryptoError(code: .aesGCMUnavailable,
                    message: "AES-256-GCM needs a CPU with AES-NI and PCLMUL; this one has neither, use ChaCha20-Poly1305")
    }
    static let nonceExhausted = CryptoError(
        code: .nonceExhausted, message: "cipher nonce space exhausted; the session must be re-established")
}
