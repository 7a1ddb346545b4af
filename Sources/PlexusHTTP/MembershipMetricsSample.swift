import PlexusTelemetry

/// The failure detector's figures for `/metrics`, in this module's vocabulary (the relay fills
/// it from the membership's statistics at scrape time). Totals since start; never decrease.
public struct MembershipMetricsSample: Sendable, Equatable {
    public var probesSent: UInt64 = 0
    public var probesAcknowledged: UInt64 = 0
    public var probesFailed: UInt64 = 0
    public var probeRoundTrip = LatencyHistogram()
    public var suspicionsRaised: UInt64 = 0
    public var suspicionsRefuted: UInt64 = 0
    public var membersDeclaredDead: UInt64 = 0
    public var selfRefutations: UInt64 = 0

    public init() {}
}

extension MetricsExporter {
    /// The probe round-trip histogram's lines (swift-prometheus takes single observations; the
    /// membership keeps bucket counts, like the request latency).
    static func membershipHistogramText(_ sample: MembershipMetricsSample) -> String {
        histogramText(name: "plexus_membership_probe_rtt_seconds",
                      help: "Round trip of acknowledged failure-detector probes (millisecond resolution).",
                      sample.probeRoundTrip)
    }
}
