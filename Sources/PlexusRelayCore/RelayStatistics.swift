import PlexusTelemetry
/// A snapshot of what the relay is doing, from `RelayServer.statistics()`.
public struct RelayStatistics: Sendable, Hashable {
    /// Client connections, including those still in their handshake.
    public var connections: Int
    /// Connections that have not completed their handshake yet.
    public var handshakingConnections: Int
    /// Clusters with at least one member / topics with at least one subscriber.
    public var clusters: Int
    public var topics: Int
    /// Requests delivered to services and not yet answered or expired.
    public var pendingRequests: Int
    /// Linked tunnels: both ends on this relay, plus those with one end on another relay.
    public var tunnels: Int
    /// Bytes queued for all connections and not yet taken by their sockets.
    public var queuedBytes: Int
    /// The highest number of bytes ever queued for a single connection.
    public var peakConnectionQueuedBytes: Int
    /// Broadcasts dropped because a member's outbound queue was full, by cluster.
    public var droppedBroadcasts: [String: Int]
    /// Events dropped because a subscriber's outbound queue was full, by topic.
    public var droppedEvents: [String: Int]
    /// Requests answered with the "service overloaded" fault, by cluster.
    public var overloadedRequests: [String: Int]
    /// Requests forwarded to other relays and not answered yet.
    public var forwardedRequests: Int = 0
    /// Encoded frame bytes queued toward other relays and not yet taken by their sessions.
    public var peerQueuedBytes: Int = 0
    /// Established sessions to other relays.
    public var peerSessions: Int = 0
    /// Frames sent to / received from other relays, and sessions that failed.
    public var peerFramesSent: Int = 0
    public var peerFramesReceived: Int = 0
    public var peerSessionFailures: Int = 0
    /// Linked tunnels with one end on another relay (included in `tunnels`), and tunnel
    /// constructions sent to another relay and not answered yet.
    public var remoteTunnels: Int = 0
    public var pendingRemoteTunnels: Int = 0
    /// Requests and tunnel constructions answered at once because no member of their cluster
    /// could take them (none anywhere, or only on unreachable or draining relays).
    public var noMembers: Int = 0
    /// Local requests refused because the relay is draining.
    public var refusedWhileDraining: Int = 0
    /// Broadcast and event copies that did not reach a receiver, by `LossReason` raw value
    /// (reasons with no loss are absent). The per-cluster and per-topic tables above count the
    /// same losses by name.
    public var lostBroadcasts: [String: Int] = [:]
    public var lostEvents: [String: Int] = [:]
    /// Requests by outcome with their latency histogram, events and broadcasts in and out, slow
    /// consumers closed, handshake failures by reason.
    public var traffic = RelayTrafficCounters()
    /// Bytes of unfinished packets the relay holds for all its clients now, and at most so far.
    public var bufferedInputBytes: Int = 0
    public var peakBufferedInputBytes: Int = 0
    /// Connections closed because their unfinished input crossed the relay's input budget.
    public var inputBudgetRefusals: Int = 0

    public var totalDroppedBroadcasts: Int { droppedBroadcasts.values.reduce(0, +) }
    public var totalDroppedEvents: Int { droppedEvents.values.reduce(0, +) }
}

/// The counters the core keeps for `RelayStatistics`.
/// Why a broadcast or event did not reach a receiver. Every such loss is counted under one reason.
public enum LossReason: String, CaseIterable, Sendable {
    /// A local receiver's outbound queue was full (it reads too slowly).
    case slowConsumer = "slow-consumer"
    /// The queue toward the receiver's relay was over twice its bound.
    case relayQueueFull = "relay-queue-full"
    /// The receiver's relay is in the directory but its link failed recently (quarantined).
    case relayUnreachable = "relay-unreachable"
}

/// Losses per reason, cheap to count on the hot path (one array slot per reason).
struct LossCounts: Sendable {
    private var counts = [Int](repeating: 0, count: LossReason.allCases.count)

    mutating func count(_ reason: LossReason) {
        switch reason {
        case .slowConsumer: counts[0] += 1
        case .relayQueueFull: counts[1] += 1
        case .relayUnreachable: counts[2] += 1
        }
    }

    var byReason: [String: Int] {
        var table: [String: Int] = [:]
        for (index, reason) in LossReason.allCases.enumerated() where counts[index] > 0 { table[reason.rawValue] = counts[index] }
        return table
    }

    var total: Int { counts.reduce(0, +) }
}

struct RelayCounters {
    package var queuedBytes = 0
    var peakConnectionQueuedBytes = 0
    var droppedBroadcasts: [WireName: Int] = [:]
    var droppedEvents: [WireName: Int] = [:]
    var overloadedRequests: [WireName: Int] = [:]
    /// Requests and tunnel constructions answered at once because no member could take them.
    var noMembers = 0
    /// Local requests refused because this relay is draining.
    var refusedWhileDraining = 0
    /// Broadcast and event copies that did not reach a receiver, by reason.
    var lostBroadcasts = LossCounts()
    var lostEvents = LossCounts()
    /// Requests by outcome and latency, events and broadcasts in and out, slow consumers closed,
    /// handshake failures (the metrics of Docs/operations.md).
    var traffic = RelayTrafficCounters()
    /// Bytes of unfinished packets held by all connections' decoders, and the most ever held.
    var bufferedInputBytes = 0
    var peakBufferedInputBytes = 0
    /// Connections closed because their unfinished input crossed the relay's input budget.
    var inputBudgetRefusals = 0

    mutating func notePeak(_ queued: Int) {
        if queued > peakConnectionQueuedBytes { peakConnectionQueuedBytes = queued }
    }

    /// Counts one drop; the key is copied only the first time a name drops.
    static func countDrop(_ table: inout [WireName: Int], _ name: WireName) {
        if let index = table.index(forKey: name) {
            table.values[index] += 1
        } else {
            table[WireName.compact(name.bytes)] = 1
        }
    }
}

extension RelayCore {
    package var statistics: RelayStatistics {
        func strings(_ table: [WireName: Int]) -> [String: Int] {
            Dictionary(table.map { ($0.key.description, $0.value) }, uniquingKeysWith: +)
        }
        return RelayStatistics(
            connections: connections.count,
            handshakingConnections: connections.values.filter { $0.lifecycle.isAwaitingHandshake }.count,
            clusters: routes.clusterCount,
            topics: routes.topicCount,
            pendingRequests: connections.values.reduce(0) { $0 + $1.delivered.count },
            tunnels: tunnels.count + (router.remoteTunnels.bridged.count),
            queuedBytes: counters.queuedBytes,
            peakConnectionQueuedBytes: counters.peakConnectionQueuedBytes,
            droppedBroadcasts: strings(counters.droppedBroadcasts),
            droppedEvents: strings(counters.droppedEvents),
            overloadedRequests: strings(counters.overloadedRequests),
            forwardedRequests: router.forwarded.count,
            peerQueuedBytes: router.queues.values.reduce(0) { $0 + $1.queuedBytes },
            remoteTunnels: router.remoteTunnels.bridged.count,
            pendingRemoteTunnels: router.remoteTunnels.pending.count,
            noMembers: counters.noMembers,
            refusedWhileDraining: counters.refusedWhileDraining,
            lostBroadcasts: counters.lostBroadcasts.byReason,
            lostEvents: counters.lostEvents.byReason,
            traffic: counters.traffic,
            bufferedInputBytes: counters.bufferedInputBytes,
            peakBufferedInputBytes: counters.peakBufferedInputBytes,
            inputBudgetRefusals: counters.inputBudgetRefusals)
    }
}
