import PlexusTelemetry

/// The relay's figures at one instant, in this module's own vocabulary: gauges are current
/// values, counters are totals since the relay started (they never decrease while it runs).
///
/// Guarantees: plain values, so a caller builds one from whatever the relay exposes at scrape
/// time; optional parts (`traffic`, `process`) are exported only when present, so no metric is
/// ever reported as zero merely because nothing counts it.
public struct RelayMetricsSample: Sendable, Equatable {
    // Clients and local work (gauges).
    public var clientsConnected = 0
    public var clientsHandshaking = 0
    public var clusters = 0
    public var topics = 0
    public var pendingRequests = 0
    public var forwardedRequests = 0
    public var tunnels = 0
    public var remoteTunnels = 0
    public var clientQueuedBytes = 0
    public var peakClientQueuedBytes = 0
    public var relayQueuedBytes = 0
    // Other relays.
    public var relaySessions = 0
    /// Counters.
    public var relayFramesSent = 0
    public var relayFramesReceived = 0
    public var relaySessionFailures = 0
    /// Drops and refusals (counters, totals over every name: names are client-chosen).
    public var droppedBroadcasts = 0
    public var droppedEvents = 0
    public var overloadedRequests = 0
    /// Events and broadcasts that could not be delivered, by reason (a fixed set of three:
    /// slow-consumer, relay-queue-full, relay-unreachable).
    public var lostEvents: [String: Int] = [:]
    public var lostBroadcasts: [String: Int] = [:]
    // Membership.
    /// Members this relay knows, by state ("alive", "suspect", "dead", "left"), self included.
    public var membersByState: [String: Int] = [:]
    /// Gossip counters.
    public var gossipDatagramsSent = 0
    public var gossipDatagramsReceived = 0
    public var gossipBytesSent = 0
    /// Datagrams dropped, by reason (a fixed set: authentication, stale, replayed, malformed, undecodable).
    public var gossipDatagramsDropped: [String: Int] = [:]
    public var membershipStreamFailures = 0
    public var joinFailures = 0
    /// Probes, suspicions and refutations (nil where the relay runs without an overlay).
    public var membership: MembershipMetricsSample?
    /// Counters the relay core keeps for traffic (nil until the core keeps them).
    public var traffic: RelayTrafficCounters?
    /// This process's CPU and memory (nil where `/proc/self` is unavailable).
    public var process: ProcessSample?
    /// Traffic per peer relay and relay-to-relay handshake failures (`PeerMetricsSample.swift`).
    public var peers: PeerMetricsSample?
    /// Per-cluster-key protection (nil where the relay does not report it).
    public var protection: ProtectionMetricsSample?
    /// The gateway's links to other overlays (nil unless this relay is a gateway).
    public var federation: FederationMetricsSample?

    public init() {}
}

/// CPU time and memory of the relay process.
public struct ProcessSample: Sendable, Equatable {
    public var cpuSeconds: Double
    public var residentBytes: Int
    public var openFileDescriptors: Int?
    public var startTimeSeconds: Double?

    public init(cpuSeconds: Double, residentBytes: Int, openFileDescriptors: Int? = nil, startTimeSeconds: Double? = nil) {
        self.cpuSeconds = cpuSeconds
        self.residentBytes = residentBytes
        self.openFileDescriptors = openFileDescriptors
        self.startTimeSeconds = startTimeSeconds
    }
}
