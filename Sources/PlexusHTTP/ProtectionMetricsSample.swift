/// Per-cluster-key protection figures for `/metrics` (the relay fills it from its protection
/// status at scrape time). Names are never labels: protected names are counted, not listed.
///
/// Guarantees: totals never decrease while the relay runs; gauges are current values.
public struct ProtectionMetricsSample: Sendable, Equatable {
    /// Protected clusters and topics this relay holds a key for (gauge).
    public var protectedNames = 0
    /// Directory entries of other relays left out because their claim did not verify (gauge).
    public var unprovenDirectoryEntries = 0
    /// Local clients refused: registrations, requests, tunnels, broadcasts/publishes/subscribes.
    public var refusedRegistrations = 0
    public var refusedRequests = 0
    public var refusedTunnels = 0
    public var refusedFanOut = 0
    /// Traffic from other relays refused for a protected name (no key here, or a wrong one).
    public var refusedFromRelays = 0
    /// Payloads sealed toward / opened from other relays, and those that failed to open.
    public var sealed = 0
    public var opened = 0
    public var openFailures = 0

    public init() {}
}

extension MetricsExporter.Writer {
    mutating func write(_ p: ProtectionMetricsSample) {
        gauge("plexus_protected_names", "Protected clusters and topics this relay holds a key for.", Double(p.protectedNames))
        gauge("plexus_protection_unproven_directory_entries",
              "Other relays' directory entries left out because their claim to a protected name did not verify.",
              Double(p.unprovenDirectoryEntries))
        let refusals: [(String, Int)] = [
            ("registration", p.refusedRegistrations), ("request", p.refusedRequests), ("tunnel", p.refusedTunnels),
            ("fanout", p.refusedFanOut), ("from_relay", p.refusedFromRelays),
        ]
        for (what, value) in refusals {
            counter("plexus_protection_refusals_total",
                    "Traffic refused for a protected name without its key, by what was refused.", value, labels: [("what", what)])
        }
        counter("plexus_protection_sealed_total", "Payloads of protected names sealed toward other relays.", p.sealed)
        counter("plexus_protection_opened_total", "Sealed payloads from other relays opened.", p.opened)
        counter("plexus_protection_open_failures_total",
                "Sealed payloads that failed to open (wrong key, tampering, replay into another context).", p.openFailures)
    }
}
