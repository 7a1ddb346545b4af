import Logging
import NIOCore
import PlexusCrypto
import PlexusNoise

/// Size limits of the session wire format (see Docs/session-protocol.md).
public enum SessionLimits {
    /// Bytes of the big-endian length prefix in front of every Noise message.
    public static let lengthPrefixSize = 2
    /// Largest Noise message (spec limit).
    public static let maximumMessageLength = NoiseLimits.maximumMessageLength
    /// Largest handshake message accepted (the largest, message 3, is 64 + 16 + payload + 16).
    public static let maximumHandshakeMessageLength = HandshakePayload.maximumEncodedLength + 128
    /// Bytes of the fragment trailer (the message type) inside each transport plaintext.
    public static let fragmentTrailerSize = 1
    /// Smallest valid transport message: the tag plus the trailer.
    public static let minimumTransportMessageLength = NoiseLimits.tagLength + fragmentTrailerSize
    /// Most application bytes per transport message.
    public static let maximumFragmentBody = maximumMessageLength - NoiseLimits.tagLength - fragmentTrailerSize
    /// Default largest application frame: 64 MiB of data plus 64 bytes for a caller's header.
    public static let defaultMaximumFrameSize = 64 * 1024 * 1024 + 64
    /// Default number of messages per direction between rekeys.
    public static let defaultRekeyInterval: UInt64 = 1 << 20
    /// The prologue bound into every handshake.
    public static let prologue = Array("plexus-session-v1".utf8)
}

/// Everything a session needs: who we are, which keys we hold, what we advertise, and
/// the limits. Value type; one per connection.
public struct SessionConfiguration: Sendable {
    public var role: NoiseRole
    public var identity: StaticIdentity
    public var keyring: Keyring
    /// Addresses sent to the peer in the handshake payload.
    public var advertisedAddresses: [String]
    /// Session protocol versions this relay speaks.
    public var supportedVersions: ClosedRange<UInt16>
    /// The handshake must complete within this time (scheduled on the channel's event loop).
    public var handshakeTimeout: TimeAmount
    /// Both sides rekey each direction after this many messages in that direction.
    public var rekeyInterval: UInt64
    /// Largest application frame accepted or sent.
    public var maximumFrameSize: Int
    /// Encrypted bytes buffered before a write is passed on without waiting for flush.
    public var outboundWriteThreshold: Int
    /// Initiator only: the Noise cipher of the suite it runs (its first message is already under
    /// it). A responder that does not accept it cannot authenticate message 1 and closes; the
    /// dialer then falls back to ChaChaPoly (Docs/session-protocol.md, "Cipher negotiation").
    public var proposedCipher: NoiseCipher = .chaChaPoly
    /// Responder only: the ciphers whose suite it tries on message 1, in this order. Defaults to
    /// every cipher this CPU runs (ChaChaPoly always; AESGCM with hardware AES).
    public var acceptedCiphers: [NoiseCipher] = NoiseCipher.allCases.filter(\.isAvailable)
    public var logger: Logger

    public init(role: NoiseRole, identity: StaticIdentity, keyring: Keyring, advertisedAddresses: [String] = [],
                supportedVersions: ClosedRange<UInt16> = 1...1, handshakeTimeout: TimeAmount = .seconds(10),
                rekeyInterval: UInt64 = SessionLimits.defaultRekeyInterval,
                maximumFrameSize: Int = SessionLimits.defaultMaximumFrameSize,
                outboundWriteThreshold: Int = 1 << 20,
                logger: Logger = Logger(label: "plexus.session")) {
        precondition(rekeyInterval > 0, "rekeyInterval must be positive")
        self.role = role
        self.identity = identity
        self.keyring = keyring
        self.advertisedAddresses = advertisedAddresses
        self.supportedVersions = supportedVersions
        self.handshakeTimeout = handshakeTimeout
        self.rekeyInterval = rekeyInterval
        self.maximumFrameSize = maximumFrameSize
        self.outboundWriteThreshold = outboundWriteThreshold
        self.logger = logger
    }
}

/// User event fired once the handshake has completed and the peer is authenticated.
public struct SessionEstablished: Sendable, Hashable {
    /// The peer's node ID (derived from its static key).
    public let peerNodeID: NodeID
    /// The peer's static public key.
    public let peerStaticKey: X25519PublicKey
    /// Addresses the peer advertised.
    public let peerAddresses: [String]
    /// The negotiated session protocol version.
    public let protocolVersion: UInt16
    /// The Noise handshake hash (channel binding).
    public let handshakeHash: [UInt8]
    /// Index into the keyring's `acceptedKeys` of the key the handshake used (0 = primary).
    public let keyIndex: Int
    /// The Noise cipher of the session's suite (`Noise_XXpsk3_25519_<cipher>_BLAKE2b`).
    public let cipher: NoiseCipher
}
