/// Time in the membership core: milliseconds on a monotonic clock supplied by the caller (or by
/// the simulator). The core never reads a clock itself.
public typealias Milliseconds = Int64

/// Every tunable of the membership protocol, with documented defaults (`lan`, `wan`).
///
/// Guarantees: a pure value; the state machine reads nothing else. `Docs/membership.md` lists
/// every field with its default and the reason for it.
public struct MembershipSettings: Sendable, Equatable {
    /// Time between two probes of this node (one member probed per interval). Scaled by local health.
    public var probeInterval: Milliseconds
    /// Time to wait for a direct ack before asking `indirectChecks` members to probe. Scaled by local health.
    public var probeTimeout: Milliseconds
    /// Number of members asked to probe indirectly (SWIM's k).
    public var indirectChecks: Int
    /// Suspicion minimum = suspicionMultiplier × max(1, log10 N) × suspicionUnit.
    public var suspicionMultiplier: Double
    /// The time unit of the suspicion formula (memberlist uses the probe interval).
    public var suspicionUnit: Milliseconds
    /// Suspicion maximum = suspicionMaxTimeoutMultiplier × minimum (the timeout with no confirmation).
    public var suspicionMaxTimeoutMultiplier: Double
    /// Independent confirmations after which a suspicion runs only its minimum timeout (Lifeguard's K).
    public var suspicionExpectedConfirmations: Int
    /// Time between two gossip rounds.
    public var gossipInterval: Milliseconds
    /// Members gossiped to per round.
    public var gossipFanout: Int
    /// How long dead members still receive gossip (so they can learn they were declared dead and refute).
    public var gossipToTheDeadTime: Milliseconds
    /// Each update is piggybacked retransmitMultiplier × ceil(log10(N + 1)) times.
    public var retransmitMultiplier: Int
    /// Base time between push-pull (full state) exchanges with a random member; scaled up above 32 members.
    public var pushPullInterval: Milliseconds
    /// Local health score ranges over 0 ..< awarenessMaxMultiplier; timeouts are scaled by score + 1.
    public var awarenessMaxMultiplier: Int
    /// Largest datagram the core will produce (whole encoded packet, before any transport sealing).
    public var packetBudget: Int
    /// How long dead/left members are kept as tombstones before being forgotten.
    public var tombstoneLifetime: Milliseconds
    /// How often the rejoin loop looks for a seed or recently dead member to retry.
    public var rejoinCheckInterval: Milliseconds
    /// First backoff for retrying one seed or dead member; doubles per attempt.
    public var rejoinInitialBackoff: Milliseconds
    /// Largest backoff for retrying one seed or dead member.
    public var rejoinMaxBackoff: Milliseconds
    /// Dead members are retried (partition healing) for this long after their death.
    public var rejoinDeadRetention: Milliseconds
    /// How long a report that a member is reachable over a live, authenticated session
    /// (`Membership.peerIsReachable`) counts as evidence that it is alive: while it is this fresh,
    /// a suspicion of that member does not turn into a death. Default: 4 probe intervals, at
    /// least 1 s (the node reports at least once per probe interval while frames arrive).
    public var reachabilityEvidenceLifetime: Milliseconds
    /// Least time between two direct prompts to a member that it is suspected or declared dead
    /// (sent so that it refutes at once instead of after the next gossip round reaches it).
    /// Default: one probe interval.
    public var refutationPromptInterval: Milliseconds

    public init(
        probeInterval: Milliseconds, probeTimeout: Milliseconds, indirectChecks: Int,
        suspicionMultiplier: Double, suspicionUnit: Milliseconds, suspicionMaxTimeoutMultiplier: Double,
        suspicionExpectedConfirmations: Int, gossipInterval: Milliseconds, gossipFanout: Int,
        gossipToTheDeadTime: Milliseconds, retransmitMultiplier: Int, pushPullInterval: Milliseconds,
        awarenessMaxMultiplier: Int, packetBudget: Int, tombstoneLifetime: Milliseconds,
        rejoinCheckInterval: Milliseconds, rejoinInitialBackoff: Milliseconds, rejoinMaxBackoff: Milliseconds,
        rejoinDeadRetention: Milliseconds
    ) {
        self.probeInterval = probeInterval
        self.probeTimeout = probeTimeout
        self.indirectChecks = indirectChecks
        self.suspicionMultiplier = suspicionMultiplier
        self.suspicionUnit = suspicionUnit
        self.suspicionMaxTimeoutMultiplier = suspicionMaxTimeoutMultiplier
        self.suspicionExpectedConfirmations = suspicionExpectedConfirmations
        self.gossipInterval = gossipInterval
        self.gossipFanout = gossipFanout
        self.gossipToTheDeadTime = gossipToTheDeadTime
        self.retransmitMultiplier = retransmitMultiplier
        self.pushPullInterval = pushPullInterval
        self.awarenessMaxMultiplier = awarenessMaxMultiplier
        self.packetBudget = packetBudget
        self.tombstoneLifetime = tombstoneLifetime
        self.rejoinCheckInterval = rejoinCheckInterval
        self.rejoinInitialBackoff = rejoinInitialBackoff
        self.rejoinMaxBackoff = rejoinMaxBackoff
        self.rejoinDeadRetention = rejoinDeadRetention
        self.reachabilityEvidenceLifetime = max(4 * probeInterval, 1_000)
        self.refutationPromptInterval = probeInterval
    }

    /// Data-center defaults (Docs/membership.md gives the measured trade-offs). Probe 250 ms /
    /// 125 ms (memberlist: 1 s / 500 ms) because the wait until some member probes a dead one is
    /// exponential with mean ≈ one probe interval and dominates the detection tail; k = 5
    /// indirect checks (memberlist: 3) so that 5 % loss rarely turns a lost ack into a suspicion;
    /// gossip every 100 ms (memberlist: 200 ms; same transmissions per update, spread faster).
    /// Suspicion is measured in units of 500 ms with multiplier 1.5 (so N = 1,000 gives
    /// 2.25 s … 13.5 s instead of memberlist's 12 s … 72 s) and K = 2 confirmations (as
    /// memberlist's LAN): a real death collects confirmations quickly and runs the short end,
    /// while an unconfirmed (false) suspicion runs the long end and is refuted well before it.
    public static let lan = MembershipSettings(
        probeInterval: 250, probeTimeout: 125, indirectChecks: 5,
        suspicionMultiplier: 1.5, suspicionUnit: 500, suspicionMaxTimeoutMultiplier: 6,
        suspicionExpectedConfirmations: 2, gossipInterval: 100, gossipFanout: 3,
        gossipToTheDeadTime: 30_000, retransmitMultiplier: 6, pushPullInterval: 30_000,
        awarenessMaxMultiplier: 8, packetBudget: 1_400, tombstoneLifetime: 300_000,
        rejoinCheckInterval: 1_000, rejoinInitialBackoff: 2_000, rejoinMaxBackoff: 60_000,
        rejoinDeadRetention: 3_600_000
    )

    /// Wide-area defaults: memberlist's WAN timing (probe 5 s / 3 s, gossip 500 ms × 4, push-pull 60 s).
    public static let wan = MembershipSettings(
        probeInterval: 5_000, probeTimeout: 3_000, indirectChecks: 3,
        suspicionMultiplier: 6, suspicionUnit: 5_000, suspicionMaxTimeoutMultiplier: 6,
        suspicionExpectedConfirmations: 4, gossipInterval: 500, gossipFanout: 4,
        gossipToTheDeadTime: 60_000, retransmitMultiplier: 4, pushPullInterval: 60_000,
        awarenessMaxMultiplier: 8, packetBudget: 1_400, tombstoneLifetime: 900_000,
        rejoinCheckInterval: 5_000, rejoinInitialBackoff: 10_000, rejoinMaxBackoff: 300_000,
        rejoinDeadRetention: 6 * 3_600_000
    )

    /// Retransmit limit for one piggybacked update in a cluster of `memberCount` members.
    public func retransmitLimit(memberCount: Int) -> Int {
        // ceil(log10(N + 1)) in integers: computed for every packet, so no logarithm.
        var digits = 0
        var power = 1
        while power < max(memberCount, 1) + 1 { power *= 10; digits += 1 }
        return retransmitMultiplier * digits
    }

    /// Push-pull interval scaled like memberlist's pushPullScale: doubles-ish above 32 members
    /// so that the cluster-wide push-pull rate stays bounded.
    public func pushPullInterval(memberCount: Int) -> Milliseconds {
        let threshold = 32.0
        guard Double(memberCount) > threshold else { return pushPullInterval }
        let factor = (log2(Double(memberCount)) - log2(threshold)).rounded(.up) + 1
        return Milliseconds(Double(pushPullInterval) * factor)
    }
}
