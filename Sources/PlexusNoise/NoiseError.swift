/// The one error type of `PlexusNoise`. Every malformed, forged or out-of-order input
/// maps to one of these; the handshake state must be discarded after any of them.
public struct NoiseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Stable machine-readable category.
    public enum Code: String, Hashable, Sendable {
        case decryptionFailed
        case messageTooShort
        case messageTooLong
        case unexpectedMessage
        case missingKey
        case missingPresharedKey
        case invalidPattern
        case invalidPublicKey
        case nonceExhausted
        case handshakeIncomplete
        case cipherUnavailable
    }

    public let code: Code
    public let message: String
    public var description: String { message }

    public static func decryptionFailed(_ what: String) -> NoiseError {
        NoiseError(code: .decryptionFailed, message: "\(what) failed authentication (wrong pre-shared key: the network key between relays, the federation key between gateways; or corrupted or forged)")
    }
    public static func messageTooShort(_ what: String, length: Int, needed: Int) -> NoiseError {
        NoiseError(code: .messageTooShort, message: "\(what) is \(length) bytes, needs at least \(needed)")
    }
    public static func messageTooLong(length: Int) -> NoiseError {
        NoiseError(code: .messageTooLong, message: "Noise message of \(length) bytes exceeds the \(NoiseLimits.maximumMessageLength)-byte limit")
    }
    public static func unexpectedMessage(_ detail: String) -> NoiseError {
        NoiseError(code: .unexpectedMessage, message: detail)
    }
    public static func missingKey(_ detail: String) -> NoiseError {
        NoiseError(code: .missingKey, message: detail)
    }
    public static let missingPresharedKey = NoiseError(
        code: .missingPresharedKey, message: "the pattern needs a pre-shared key that was not provided")
    public static func invalidPattern(_ detail: String) -> NoiseError {
        NoiseError(code: .invalidPattern, message: detail)
    }
    public static let invalidPublicKey = NoiseError(
        code: .invalidPublicKey, message: "peer sent a low-order X25519 public key")
    public static let nonceExhausted = NoiseError(
        code: .nonceExhausted, message: "cipher nonce exhausted (2^64-1 messages); re-establish the session")
    public static let handshakeIncomplete = NoiseError(
        code: .handshakeIncomplete, message: "the handshake has not finished")
    public static func cipherUnavailable(_ cipher: NoiseCipher) -> NoiseError {
        NoiseError(code: .cipherUnavailable, message: "the Noise cipher \(cipher.rawValue) cannot run on this CPU (AESGCM needs AES-NI and PCLMUL)")
    }
}

/// Size limits from the Noise specification.
public enum NoiseLimits {
    /// Every Noise message, handshake or transport, is at most 65535 bytes (spec section 3).
    public static let maximumMessageLength = 65535
    /// DHLEN for Curve25519.
    public static let dhLength = 32
    /// The AEAD tag length.
    public static let tagLength = 16
    /// Largest plaintext that fits one transport message.
    public static let maximumTransportPlaintext = maximumMessageLength - tagLength
}
