import PlexusTelemetry

/// What the failure detector did since this node started, for the operator (`/metrics`,
/// `/v1/status`): probes and their round trips, suspicions raised and how they ended, and how
/// often this node had to refute an accusation against itself.
///
/// Guarantees: plain totals kept by the pure `Membership` value (no lock, no allocation after the
/// first probe); they never decrease. Round trips are in the membership's millisecond clock, so
/// a round trip under 1 ms counts as 0 (the histogram's first bucket).
public struct MembershipStatistics: Sendable, Equatable, Codable {
    /// Direct probes (pings) sent.
    public var probesSent: UInt64 = 0
    /// Probes answered in time, directly or through a helper (ping-req).
    public var probesAcknowledged: UInt64 = 0
    /// Probes that got no answer within the probe interval (each raises or confirms a suspicion).
    public var probesFailed: UInt64 = 0
    /// Send of a probe → its ack arriving, for acknowledged probes.
    public var probeRoundTrip = LatencyHistogram()
    /// Members that became suspect here (from a failed probe of ours or from hearsay).
    public var suspicionsRaised: UInt64 = 0
    /// Suspected members that proved alive with a higher incarnation: false suspicions.
    public var suspicionsRefuted: UInt64 = 0
    /// Members this node declared dead when their suspicion ran out.
    public var membersDeclaredDead: UInt64 = 0
    /// Times this node refuted a suspicion or death said about itself.
    public var selfRefutations: UInt64 = 0

    public init() {}
}
