import Logging
import PlexusCrypto
import PlexusMembership
import PlexusSession

/// Everything an `Overlay` needs: identity, keys, where to listen, what to advertise, whom to join.
public struct OverlayConfiguration: Sendable {
    /// The static identity (node ID and Noise static key).
    public var identity: StaticIdentity
    /// Network keys: the primary seals datagrams and initiates sessions; all are accepted.
    public var keyring: Keyring
    /// Address the UDP and TCP peer listeners bind. Default "0.0.0.0".
    public var bindHost: String
    /// Peer port (UDP and TCP, the same number). 0 = ephemeral.
    public var peerPort: Int
    /// Host other relays use to reach this one. Default "127.0.0.1".
    public var advertiseHost: String
    public var zone: String
    public var settings: MembershipSettings
    /// Addresses to join ("host:port" already resolved to IPs, or host names resolved at start).
    public var seeds: [NodeAddress]
    /// `--join HOST:PORT` texts re-resolved every `seedRefreshMilliseconds`; new addresses become
    /// seeds (a headless service gaining pods). Resolution runs off the overlay's loop.
    public var joinNames: [String] = []
    public var seedRefreshMilliseconds: Int64 = 30_000
    /// Bounds on unauthenticated peer connections (per source, total, reserve for members'
    /// addresses, handshake timeout); see `ConnectionAdmission`.
    public var admissionLimits = ConnectionAdmissionLimits()
    /// Where relay-to-relay messaging sessions accepted on the peer port (preface 'S') go: the
    /// relay's `PeerLinks`, whose loop then also accepts and runs the peer port's TCP connections.
    /// nil (an overlay alone): such connections are refused (`prefacesRefused`). Default nil.
    public var sessionAcceptor: PeerPortSessionAcceptor?
    /// Sealed datagrams older (or further in the future) than this are dropped. Default 30 s.
    public var replayWindowMilliseconds: Int64
    public var logger: Logger
    /// Called on the overlay's loop after every directory change and membership change the relay
    /// core must act on. Default nil.
    public var observer: (@Sendable (OverlayEvent) -> Void)?

    public init(identity: StaticIdentity, keyring: Keyring, bindHost: String = "0.0.0.0", peerPort: Int = 55554,
                advertiseHost: String = "127.0.0.1", zone: String = "", settings: MembershipSettings = .lan,
                seeds: [NodeAddress] = [], replayWindowMilliseconds: Int64 = 30_000,
                logger: Logger = Logger(label: "plexus.overlay")) {
        self.identity = identity
        self.keyring = keyring
        self.bindHost = bindHost
        self.peerPort = peerPort
        self.advertiseHost = advertiseHost
        self.zone = zone
        self.settings = settings
        self.seeds = seeds
        self.replayWindowMilliseconds = replayWindowMilliseconds
        self.logger = logger
    }
}

/// What the overlay tells the relay core.
public enum OverlayEvent: Sendable {
    /// The directory changed: this is the new snapshot.
    case directoryChanged(DirectorySnapshot)
    /// The relay was declared dead or left: whatever is pending on it must fail now.
    case relayGone(NodeID)
}

/// Counters of the overlay transport (all monotonic).
public struct OverlayCounters: Sendable, Codable, Equatable {
    public var datagramsSent = 0
    public var datagramsReceived = 0
    public var datagramBytesSent = 0
    public var largestDatagramSent = 0
    public var datagramSendFailures = 0
    /// A `.datagram` directive too large for a datagram, carried on a stream instead.
    public var datagramsRoutedToStream = 0
    public var droppedMalformed = 0
    public var droppedAuthentication = 0
    public var droppedStale = 0
    public var droppedReplayed = 0
    /// Authenticated but the membership decoder refused it.
    public var droppedUndecodable = 0
    public var streamsOpened = 0
    public var streamSendFailures = 0
    public var streamFramesReceived = 0
    public var streamFailures = 0
    /// Membership streams (dialed or accepted) that failed before their session was established,
    /// by reason (timeout, malformed, authentication; `PeerHandshakeFailure`).
    public var streamHandshakeFailures = PeerHandshakeFailureCounts()
    /// Inbound sessions closed at once because 256 were already open.
    public var streamsRefused = 0
    /// Peer connections closed before their handshake because their source already held
    /// `ConnectionAdmissionLimits.maximumPerSource` unauthenticated connections.
    public var connectionsRefusedPerSource = 0
    /// Peer connections closed before their handshake because every unauthenticated slot open
    /// to their source was taken (unknown sources cannot take the reserve for known members).
    public var connectionsRefusedTotal = 0
    /// Peer-port connections closed because their first byte was not a preface this relay serves
    /// (neither 'M' nor 'S', or 'S' on an overlay without messaging sessions).
    public var prefacesRefused = 0
    /// Peer-port connections closed because no preface arrived within 3 s (also counted in
    /// `handshakesTimedOut`).
    public var prefacesTimedOut = 0
    /// Peer connections closed because they did not complete their handshake in time (those that
    /// did not even send their preface included).
    public var handshakesTimedOut = 0
    /// Accept errors (e.g. out of file descriptors) after which accepting paused for 1 s.
    public var acceptBackoffs = 0
    /// Times the UDP socket was bound again after NIO closed it (a send refused by the kernel).
    public var datagramSocketReopened = 0
    public var joinAttempts = 0
    public var joinFailures = 0
    public var beaconsSent = 0
    public var beaconsReceived = 0
    /// Beacons that failed the seal (wrong key, stale, replayed) or were malformed.
    public var beaconsDropped = 0

    public init() {}
}
