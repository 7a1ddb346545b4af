import Logging
import NIOCore
import PlexusCrypto
import PlexusMembership
import PlexusNoise
import PlexusSession

/// Tunables of `PeerLinks`. `init` gives the defaults below.
public struct PeerLinksConfiguration: Sendable {
    /// This relay's static identity (its node ID decides simultaneous-dial tie-breaks).
    public var identity: StaticIdentity
    /// Network keys: a relay without a shared key never completes a session.
    public var keyring: Keyring
    /// Address the stand-alone session listener binds (`PeerLinks.start(…, listen: true)`; a
    /// relay's sessions use the peer port instead). Default 127.0.0.1.
    public var host: String
    /// Stand-alone listener port; 0 = ephemeral. Default 0.
    public var port: Int
    /// Bound on bytes queued for one peer (waiting for the session, or written but not yet taken
    /// by the socket). At the bound `send` answers `.overflow` and queues nothing. Default 16 MiB.
    public var outboundLimitBytes: Int
    /// Handshake deadline of each session. Default 5 s.
    public var handshakeTimeout: TimeAmount
    /// Connect timeout of each dial. Default 3 s.
    public var connectTimeout: TimeAmount
    /// Bounds on connections to the session listener that have not authenticated yet (per
    /// source, in total, handshake deadline; `ConnectionAdmission`). Default: its defaults.
    public var admissionLimits: ConnectionAdmissionLimits
    public var logger: Logger
    /// The Noise cipher our dials propose (`Docs/session-protocol.md`, "Cipher negotiation"):
    /// AESGCM where this CPU has hardware AES, else ChaChaPoly. A peer that refuses it gets
    /// ChaChaPoly on the immediate redial and from then on.
    public var proposedCipher: NoiseCipher = .preferred
    /// The ciphers accepted sessions may run, in preference order (every one this CPU runs).
    public var acceptedCiphers: [NoiseCipher] = NoiseCipher.allCases.filter(\.isAvailable)

    public init(identity: StaticIdentity, keyring: Keyring, host: String = "127.0.0.1", port: Int = 0,
                outboundLimitBytes: Int = 16 * 1024 * 1024, handshakeTimeout: TimeAmount = .seconds(5),
                connectTimeout: TimeAmount = .seconds(3), logger: Logger = Logger(label: "plexus.peering")) {
        self.identity = identity
        self.keyring = keyring
        self.host = host
        self.port = port
        self.outboundLimitBytes = outboundLimitBytes
        self.handshakeTimeout = handshakeTimeout
        self.connectTimeout = connectTimeout
        self.admissionLimits = ConnectionAdmissionLimits()
        self.logger = logger
    }
}

/// What `PeerLinks.send` did with a frame.
public enum PeerSendResult: Sendable, Equatable {
    /// Written to the peer's session, or queued until the session is established.
    case queued
    /// The peer's queue is at `outboundLimitBytes`: nothing was queued (caller drops and counts,
    /// or answers a request with a fault).
    case overflow
}

/// Counters of `PeerLinks` (loop-bound, read on the loop).
public struct PeerLinkCounters: Sendable, Equatable {
    public var sessionsEstablished = 0
    /// Sessions (or dials) that ended while they were the link to their peer.
    public var sessionsFailed = 0
    /// Duplicate sessions closed by the simultaneous-dial tie-break.
    public var duplicatesClosed = 0
    public var framesSent = 0
    public var framesReceived = 0
    public var framesOverflowed = 0
    /// Undecodable frames (the session carrying one is closed).
    public var framesMalformed = 0
    /// Sessions (dialed or accepted) that failed before establishment, by reason.
    public var handshakeFailures = PeerHandshakeFailureCounts()
    /// Dials whose proposed cipher the peer refused, redialed under ChaChaPoly.
    public var cipherFallbacks = 0
}
