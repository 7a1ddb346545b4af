/// How a request handled by this relay ended, as counted by `RelayTrafficCounters`.
public enum RequestOutcome: String, Sendable, CaseIterable, Codable {
    /// The service replied successfully.
    case ok
    /// The service replied with a fault.
    case fault
    /// No reply within the request's timeout (including a member that went away).
    case timedOut = "timed_out"
    /// Refused before delivery: no member, or the cluster is overloaded.
    case refused
    /// Failed otherwise: the relay serving it departed, the requester left, a queue was full.
    case failed
}

/// Why a client or relay handshake failed, as counted by `RelayTrafficCounters`.
public enum HandshakeFailure: String, Sendable, CaseIterable, Codable {
    /// The client did not complete its handshake within the handshake timeout.
    case timeout
    /// Malformed or out-of-order handshake bytes, or an unsupported protocol version.
    case malformed
    /// A relay-to-relay session failed authentication (wrong network key or identity).
    case authentication
}

/// Counters the relay core can keep for the metrics the issue lists and `RelayStatistics` does
/// not have yet: requests by outcome and their latency, events, broadcasts and tunnel bytes, slow
/// consumers disconnected and handshake failures by reason.
///
/// Guarantees: a plain value with fixed-size storage (arrays sized at `init`, indexed by the
/// enums' positions), so the core increments it on its own event loop with no lock and no
/// metrics call; every counter only grows; `merge` adds two of them exactly. Exporters read a
/// copy at scrape time.
public struct RelayTrafficCounters: Sendable, Hashable {
    /// Requests by outcome, indexed by `RequestOutcome.allCases` position.
    public private(set) var requestsByOutcome: [UInt64]
    /// Time from a request's arrival at this relay to its reply leaving it.
    public var requestLatency = LatencyHistogram()
    public var eventsIn: UInt64 = 0
    public var eventsOut: UInt64 = 0
    public var broadcastsIn: UInt64 = 0
    public var broadcastsOut: UInt64 = 0
    /// Tunnel payload bytes received from / sent to clients of this relay.
    public var tunnelBytesIn: UInt64 = 0
    public var tunnelBytesOut: UInt64 = 0
    /// Client connections closed because their outbound queue stayed over its bound.
    public var slowConsumersDisconnected: UInt64 = 0
    /// Handshake failures, indexed by `HandshakeFailure.allCases` position.
    public private(set) var handshakeFailures: [UInt64]

    public init() {
        requestsByOutcome = Array(repeating: 0, count: RequestOutcome.allCases.count)
        handshakeFailures = Array(repeating: 0, count: HandshakeFailure.allCases.count)
    }

    /// Counts one finished request and records its latency.
    public mutating func countRequest(_ outcome: RequestOutcome, latencyNanoseconds: Int64) {
        requestsByOutcome[outcome.index] &+= 1
        requestLatency.record(nanoseconds: latencyNanoseconds)
    }

    public mutating func countHandshakeFailure(_ reason: HandshakeFailure) {
        handshakeFailures[reason.index] &+= 1
    }

    public func requests(_ outcome: RequestOutcome) -> UInt64 { requestsByOutcome[outcome.index] }
    public func handshakeFailures(_ reason: HandshakeFailure) -> UInt64 { handshakeFailures[reason.index] }

    /// Adds every count of `other` to these counters.
    public mutating func merge(_ other: RelayTrafficCounters) {
        for index in requestsByOutcome.indices { requestsByOutcome[index] &+= other.requestsByOutcome[index] }
        for index in handshakeFailures.indices { handshakeFailures[index] &+= other.handshakeFailures[index] }
        requestLatency.merge(other.requestLatency)
        eventsIn &+= other.eventsIn
        eventsOut &+= other.eventsOut
        broadcastsIn &+= other.broadcastsIn
        broadcastsOut &+= other.broadcastsOut
        tunnelBytesIn &+= other.tunnelBytesIn
        tunnelBytesOut &+= other.tunnelBytesOut
        slowConsumersDisconnected &+= other.slowConsumersDisconnected
    }
}

extension RequestOutcome {
    var index: Int {
        switch self {
        case .ok: 0
        case .fault: 1
        case .timedOut: 2
        case .refused: 3
        case .failed: 4
        }
    }
}

extension HandshakeFailure {
    var index: Int {
        switch self {
        case .timeout: 0
        case .malformed: 1
        case .authentication: 2
        }
    }
}
