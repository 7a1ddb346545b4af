import PlexusHTTP
import PlexusOverlay
import PlexusPeering
import PlexusSession

extension PeerMetricsSample {
    /// The relay-to-relay figures from what the relay exposes: `PeerLinks`' report (traffic per
    /// peer, messaging-session handshake failures) and the overlay's counters (membership
    /// streams, and the peer port's admission and prefaces, which come before a connection's kind).
    init(_ report: PeerLinksReport?, _ counters: OverlayCounters) {
        self.init()
        if let report {
            peers = report.peers.map { peer in
                Peer(label: peer.node, bytesSent: peer.traffic.bytesSent, bytesReceived: peer.traffic.bytesReceived,
                     framesSent: peer.traffic.framesSent, framesReceived: peer.traffic.framesReceived, queuedBytes: peer.queuedBytes)
            }
            let other = report.otherPeers
            if other != PeerTraffic() {
                peers.append(Peer(label: "other", bytesSent: other.bytesSent, bytesReceived: other.bytesReceived,
                                  framesSent: other.framesSent, framesReceived: other.framesReceived, queuedBytes: nil))
            }
            handshakeFailures["session"] = Self.byReason(report.handshakeFailures)
        }
        handshakeFailures["membership"] = Self.byReason(counters.streamHandshakeFailures)
        var listener = PeerHandshakeFailureCounts()
        listener.refused = counters.connectionsRefusedPerSource + counters.connectionsRefusedTotal + counters.streamsRefused
        listener.timeout = counters.handshakesTimedOut
        listener.malformed = counters.prefacesRefused
        handshakeFailures["listener"] = Self.byReason(listener)
        acceptBackoffs = counters.acceptBackoffs
    }

    static func byReason(_ counts: PeerHandshakeFailureCounts) -> [String: Int] {
        var result: [String: Int] = [:]
        for reason in PeerHandshakeFailure.allCases { result[reason.rawValue] = counts[reason] }
        return result
    }
}
