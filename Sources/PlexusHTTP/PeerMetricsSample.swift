/// The relay-to-relay figures of one scrape, in this module's own vocabulary: traffic per peer
/// relay, handshake failures by kind and reason, accept backoffs of the peer port. Totals never
/// decrease while the relay runs; `queuedBytes` is a current value.
///
/// Guarantees: bounded cardinality. Peers are relays (not client-chosen names) and the exporter
/// renders at most `maximumPeerLabels` of them (the relay already folds those beyond its own
/// bound of 256 into `"other"`); kinds and reasons are fixed sets.
public struct PeerMetricsSample: Sendable, Equatable {
    public struct Peer: Sendable, Equatable {
        /// The peer's node ID (hex), or "other" for the peers beyond the relay's bound.
        public var label: String
        public var bytesSent: Int
        public var bytesReceived: Int
        public var framesSent: Int
        public var framesReceived: Int
        /// Bytes queued toward the peer now (nil for "other").
        public var queuedBytes: Int?

        public init(label: String, bytesSent: Int, bytesReceived: Int, framesSent: Int, framesReceived: Int, queuedBytes: Int?) {
            self.label = label
            self.bytesSent = bytesSent
            self.bytesReceived = bytesReceived
            self.framesSent = framesSent
            self.framesReceived = framesReceived
            self.queuedBytes = queuedBytes
        }
    }

    /// "membership": membership streams; "session": relay-to-relay messaging sessions;
    /// "listener": the peer port's listener before a connection's kind counts (admission
    /// refusals, handshake deadlines, bad prefaces).
    public static let kinds = ["membership", "session", "listener"]
    public static let reasons = ["timeout", "malformed", "authentication", "refused"]
    public static let maximumPeerLabels = 257

    public var peers: [Peer] = []
    /// Totals by kind, then reason (both from the fixed sets above; missing ones are 0).
    public var handshakeFailures: [String: [String: Int]] = [:]
    public var acceptBackoffs = 0

    public init() {}
}

extension MetricsExporter {
    /// The Prometheus text of `sample` (written here, like the histogram: exact totals, labels
    /// from bounded sets).
    static func peerText(_ sample: PeerMetricsSample) -> String {
        let peers = sample.peers.prefix(PeerMetricsSample.maximumPeerLabels)
        var text = ""
        func family(_ name: String, _ type: String, _ help: String, _ lines: [(labels: String, value: Int)]) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for line in lines { text += "\(name)\(line.labels) \(line.value)\n" }
        }
        func peer(_ value: (PeerMetricsSample.Peer) -> Int?) -> [(labels: String, value: Int)] {
            peers.compactMap { peer in value(peer).map { ("{peer=\"\(escape(peer.label))\"}", $0) } }
        }
        family("plexus_peer_sent_bytes_total", "counter",
               "Session-frame bytes (batches of peer frames, before encryption) sent to each peer relay.", peer(\.bytesSent))
        family("plexus_peer_received_bytes_total", "counter",
               "Session-frame bytes (after decryption) received from each peer relay.", peer(\.bytesReceived))
        family("plexus_peer_sent_frames_total", "counter", "Peer frames queued for each peer relay.", peer(\.framesSent))
        family("plexus_peer_received_frames_total", "counter", "Peer frames received from each peer relay.", peer(\.framesReceived))
        family("plexus_peer_queue_bytes", "gauge", "Bytes queued toward each peer relay and not yet taken by its socket.",
               peer(\.queuedBytes))
        var failures: [(labels: String, value: Int)] = []
        for kind in PeerMetricsSample.kinds {
            for reason in PeerMetricsSample.reasons {
                failures.append(("{kind=\"\(kind)\",reason=\"\(reason)\"}", sample.handshakeFailures[kind]?[reason] ?? 0))
            }
        }
        family("plexus_peer_handshake_failures_total", "counter",
               "Relay-to-relay connections that failed before their session was established, by kind and reason.", failures)
        family("plexus_peer_port_accept_backoffs_total", "counter",
               "Times accepting on the peer port paused for 1 s after an accept error (out of file descriptors).",
               [("", sample.acceptBackoffs)])
        return text
    }

    private static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
