import CoreMetrics
import NIOConcurrencyHelpers
import PlexusTelemetry
import Prometheus

/// Turns a `RelayMetricsSample` into the Prometheus text exposition, through swift-metrics
/// handlers (`CounterHandler`, `RecorderHandler`) backed by a private swift-prometheus registry.
///
/// Guarantees:
/// * Everything happens at scrape time: the relay's hot path never calls a metric; the sample's
///   totals are turned into counter increments (the delta since the previous scrape), so the
///   exported counters are exactly the relay's totals.
/// * Labels have bounded cardinality: only fixed sets (member state, drop reason, request
///   outcome, handshake failure reason); names chosen by clients are never labels.
/// * Scrapes are serialized by one lock (not on any relay loop).
public final class MetricsExporter: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let state = NIOLockedValueBox(State())

    struct State {
        var counters: [String: (handler: any CounterHandler, last: Int64)] = [:]
        var gauges: [String: any RecorderHandler] = [:]
        var secondsCounters: [String: (handler: any FloatingPointCounterHandler, last: Double)] = [:]
    }

    public init() {}

    /// The exposition of `sample` (text format 0.0.4).
    public func exposition(of sample: RelayMetricsSample) -> [UInt8] {
        state.withLockedValue { state in
            var writer = Writer(registry: registry, state: state)
            writer.write(sample)
            state = writer.state
            var bytes = registry.emitToBuffer()
            if let peers = sample.peers { bytes += Array(Self.peerText(peers).utf8) }
            if let traffic = sample.traffic {
                bytes += Array(Self.histogramText(name: "plexus_request_duration_seconds",
                                                  help: "Time from a request's arrival at this relay to its reply leaving it.",
                                                  traffic.requestLatency).utf8)
            }
            if let membership = sample.membership {
                bytes += Array(Self.membershipHistogramText(membership).utf8)
            }
            return bytes
        }
    }

    /// A Prometheus histogram's lines for `histogram` (seconds).
    static func histogramText(name: String, help: String, _ histogram: LatencyHistogram) -> String {
        var text = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        let cumulative = histogram.cumulativeCounts
        for (index, bound) in LatencyHistogram.boundsNanoseconds.enumerated() {
            text += "\(name)_bucket{le=\"\(Double(bound) / 1e9)\"} \(cumulative[index])\n"
        }
        text += "\(name)_bucket{le=\"+Inf\"} \(cumulative[cumulative.count - 1])\n"
        text += "\(name)_sum \(Double(histogram.sumNanoseconds) / 1e9)\n"
        text += "\(name)_count \(histogram.count)\n"
        return text
    }

    struct Writer {
        let registry: PrometheusCollectorRegistry
        var state: State

        /// `name` is already the full metric name (unit and `_total` included).
        func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
        }

        mutating func gauge(_ name: String, _ help: String, _ value: Double, labels: [(String, String)] = []) {
            let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
            let handler = state.gauges[key] ?? registry.makeGauge(descriptor: descriptor(name, help), labels: labels)
            state.gauges[key] = handler
            handler.record(value)
        }

        /// Exports the total `value` as a counter: increments by what was added since the last scrape.
        mutating func counter(_ name: String, _ help: String, _ value: Int, labels: [(String, String)] = []) {
            let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
            let total = Int64(clamping: value)
            var entry = state.counters[key] ?? (registry.makeCounter(descriptor: descriptor(name, help), labels: labels), 0)
            if total > entry.last {
                entry.handler.increment(by: total - entry.last)
                entry.last = total
            }
            state.counters[key] = entry
        }

        /// A fractional total (CPU seconds) exported as a counter, like `counter`.
        mutating func secondsCounter(_ name: String, _ help: String, _ total: Double) {
            var entry = state.secondsCounters[name] ?? (registry.makeCounter(descriptor: descriptor(name, help), labels: []), 0)
            if total > entry.last {
                entry.handler.increment(by: total - entry.last)
                entry.last = total
            }
            state.secondsCounters[name] = entry
        }

        mutating func counter(_ name: String, _ help: String, _ value: UInt64, labels: [(String, String)] = []) {
            counter(name, help, Int(clamping: value), labels: labels)
        }

        mutating func write(_ s: RelayMetricsSample) {
            gauge("plexus_clients_connected", "Client connections, including those still in their handshake.", Double(s.clientsConnected))
            gauge("plexus_clients_handshaking", "Client connections that have not completed their handshake.", Double(s.clientsHandshaking))
            gauge("plexus_local_clusters", "Clusters with at least one member connected to this relay.", Double(s.clusters))
            gauge("plexus_local_topics", "Topics with at least one subscriber connected to this relay.", Double(s.topics))
            gauge("plexus_requests_pending", "Requests delivered to local services and not yet answered or expired.", Double(s.pendingRequests))
            gauge("plexus_requests_forwarded_pending", "Requests forwarded to other relays and not answered yet.", Double(s.forwardedRequests))
            gauge("plexus_tunnels", "Linked tunnels with at least one end on this relay.", Double(s.tunnels))
            gauge("plexus_tunnels_remote", "Linked tunnels with one end on another relay.", Double(s.remoteTunnels))
            gauge("plexus_client_queue_bytes", "Bytes queued toward clients and not yet taken by their sockets.", Double(s.clientQueuedBytes))
            gauge("plexus_client_queue_peak_bytes", "Highest number of bytes ever queued toward one client.", Double(s.peakClientQueuedBytes))
            gauge("plexus_relay_queue_bytes", "Encoded frame bytes queued toward other relays.", Double(s.relayQueuedBytes))
            gauge("plexus_relay_sessions", "Established sessions to other relays.", Double(s.relaySessions))
            counter("plexus_relay_frames_sent_total", "Frames sent to other relays.", s.relayFramesSent)
            counter("plexus_relay_frames_received_total", "Frames received from other relays.", s.relayFramesReceived)
            counter("plexus_relay_session_failures_total", "Sessions to other relays that failed (handshake or later).", s.relaySessionFailures)
            counter("plexus_broadcasts_dropped_total", "Broadcasts dropped at a full member or relay queue.", s.droppedBroadcasts)
            counter("plexus_events_dropped_total", "Events dropped at a full subscriber or relay queue.", s.droppedEvents)
            counter("plexus_requests_overloaded_total", "Requests answered with the service-overloaded fault.", s.overloadedRequests)
            for reason in MetricsExporter.lossReasons {
                counter("plexus_events_lost_total", "Events that could not be delivered, by reason.",
                        s.lostEvents[reason] ?? 0, labels: [("reason", reason)])
                counter("plexus_broadcasts_lost_total", "Broadcasts that could not be delivered, by reason.",
                        s.lostBroadcasts[reason] ?? 0, labels: [("reason", reason)])
            }
            for state in ["alive", "suspect", "dead", "left"] {
                gauge("plexus_members", "Overlay members this relay knows, self included, by state.",
                      Double(s.membersByState[state] ?? 0), labels: [("state", state)])
            }
            counter("plexus_gossip_datagrams_sent_total", "Sealed membership datagrams sent.", s.gossipDatagramsSent)
            counter("plexus_gossip_datagrams_received_total", "Membership datagrams received and authenticated.", s.gossipDatagramsReceived)
            counter("plexus_gossip_sent_bytes_total", "Bytes of sealed membership datagrams sent.", s.gossipBytesSent)
            for reason in MetricsExporter.gossipDropReasons {
                counter("plexus_gossip_datagrams_dropped_total", "Membership datagrams dropped, by reason.",
                        s.gossipDatagramsDropped[reason] ?? 0, labels: [("reason", reason)])
            }
            counter("plexus_membership_stream_failures_total", "Membership streams (push-pull, joins) that failed.", s.membershipStreamFailures)
            counter("plexus_membership_join_failures_total", "Join attempts that failed.", s.joinFailures)
            if let m = s.membership {
                counter("plexus_membership_probes_total", "Failure-detector probes sent.", m.probesSent)
                counter("plexus_membership_probes_acknowledged_total", "Probes answered in time, directly or through a helper.",
                        m.probesAcknowledged)
                counter("plexus_membership_probes_failed_total", "Probes without an answer within the probe interval.", m.probesFailed)
                counter("plexus_membership_suspicions_total", "Members that became suspect here.", m.suspicionsRaised)
                counter("plexus_membership_suspicions_refuted_total",
                        "Suspected members that proved alive with a higher incarnation (false suspicions).", m.suspicionsRefuted)
                counter("plexus_membership_members_declared_dead_total", "Members declared dead here when their suspicion ran out.",
                        m.membersDeclaredDead)
                counter("plexus_membership_self_refutations_total", "Accusations against this relay that it refuted.",
                        m.selfRefutations)
            }
            if let t = s.traffic { write(t) }
            if let protection = s.protection { write(protection) }
            if let federation = s.federation { write(federation) }
            if let p = s.process {
                secondsCounter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", p.cpuSeconds)
                gauge("process_resident_memory_bytes", "Resident memory size in bytes.", Double(p.residentBytes))
                if let fds = p.openFileDescriptors { gauge("process_open_fds", "Number of open file descriptors.", Double(fds)) }
                if let start = p.startTimeSeconds {
                    gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", start)
                }
            }
        }

        mutating func write(_ t: RelayTrafficCounters) {
            for outcome in RequestOutcome.allCases {
                counter("plexus_requests_total", "Requests handled by this relay, by outcome.", t.requests(outcome),
                        labels: [("outcome", outcome.rawValue)])
            }
            counter("plexus_events_received_total", "Events published by clients of this relay or received from other relays.", t.eventsIn)
            counter("plexus_events_delivered_total", "Events delivered to subscribers or sent to other relays.", t.eventsOut)
            counter("plexus_broadcasts_received_total", "Broadcasts sent by clients of this relay or received from other relays.", t.broadcastsIn)
            counter("plexus_broadcasts_delivered_total", "Broadcasts delivered to members or sent to other relays.", t.broadcastsOut)
            counter("plexus_tunnel_received_bytes_total", "Tunnel payload bytes received from clients of this relay.", t.tunnelBytesIn)
            counter("plexus_tunnel_sent_bytes_total", "Tunnel payload bytes sent to clients of this relay.", t.tunnelBytesOut)
            counter("plexus_slow_consumers_disconnected_total", "Clients closed because their outbound queue stayed over its bound.",
                    t.slowConsumersDisconnected)
            for reason in HandshakeFailure.allCases {
                counter("plexus_handshake_failures_total", "Client and relay handshakes that failed, by reason.",
                        t.handshakeFailures(reason), labels: [("reason", reason.rawValue)])
            }
        }
    }

    /// The relay core's `LossReason` raw values (a fixed set, so labels stay bounded).
    public static let lossReasons = ["slow-consumer", "relay-queue-full", "relay-unreachable"]

    static let gossipDropReasons = ["authentication", "stale", "replayed", "malformed", "undecodable"]
}
