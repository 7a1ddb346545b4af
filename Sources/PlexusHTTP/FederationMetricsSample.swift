/// A gateway's figures for `/metrics` (`Docs/federation.md` §6; filled at scrape time from the
/// gateway's status, nil on relays that are not gateways). Overlay names are labels: a
/// federation has few overlays, all named by its operators.
///
/// Guarantees: totals never decrease while the gateway runs; gauges are current values.
public struct FederationMetricsSample: Sendable, Equatable {
    public struct Link: Sendable, Equatable {
        public var overlay: String
        public var queuedBytes: Int
        public var pendingRequests: Int
        public var tunnels: Int
        public var roundTripSeconds: Double?
        public init(overlay: String, queuedBytes: Int, pendingRequests: Int, tunnels: Int, roundTripSeconds: Double?) {
            self.overlay = overlay
            self.queuedBytes = queuedBytes
            self.pendingRequests = pendingRequests
            self.tunnels = tunnels
            self.roundTripSeconds = roundTripSeconds
        }
    }

    /// Ready links, one entry each.
    public var links: [Link] = []
    /// Broadcasts and events refused because every link to their overlay was over its bound.
    public var refusedFanOut = 0
    /// Gateway connections that closed before authenticating (wrong federation key).
    public var unauthenticatedClosed = 0

    public init() {}
}

extension MetricsExporter.Writer {
    mutating func write(_ f: FederationMetricsSample) {
        gauge("plexus_gateway_links", "Ready links of this gateway to gateways of other overlays.", Double(f.links.count))
        var byOverlay: [String: (queued: Int, pending: Int, tunnels: Int, rtt: Double?)] = [:]
        for link in f.links {
            var entry = byOverlay[link.overlay] ?? (0, 0, 0, nil)
            entry.queued += link.queuedBytes
            entry.pending += link.pendingRequests
            entry.tunnels += link.tunnels
            if let rtt = link.roundTripSeconds { entry.rtt = min(entry.rtt ?? rtt, rtt) }
            byOverlay[link.overlay] = entry
        }
        for (overlay, entry) in byOverlay.sorted(by: { $0.key < $1.key }) {
            let labels = [("overlay", overlay)]
            gauge("plexus_gateway_queue_bytes", "Bytes queued toward another overlay's gateways and not yet written.",
                  Double(entry.queued), labels: labels)
            gauge("plexus_gateway_requests_pending", "Requests sent to another overlay and not answered yet.",
                  Double(entry.pending), labels: labels)
            gauge("plexus_gateway_tunnels", "Tunnels spliced through this gateway to another overlay.", Double(entry.tunnels), labels: labels)
            if let rtt = entry.rtt {
                gauge("plexus_gateway_round_trip_seconds", "Round trip of the best link to another overlay.", rtt, labels: labels)
            }
        }
        counter("plexus_gateway_fanout_refused_total",
                "Broadcasts and events refused because every link to their overlay was over its queue bound.", f.refusedFanOut)
        counter("plexus_gateway_unauthenticated_closed_total",
                "Gateway connections closed before authenticating (wrong federation key?).", f.unauthenticatedClosed)
    }
}
