import Foundation
@testable import PlexusHTTP
import XCTest

/// The relay-to-relay part of `/metrics` (`PeerMetricsSample`): valid exposition next to the rest,
/// totals exported as they are, labels from bounded sets.
final class PeerMetricsExpositionTests: XCTestCase {
    static func sample(peers: Int = 2) -> PeerMetricsSample {
        var sample = PeerMetricsSample()
        sample.peers = (0..<peers).map { index in
            .init(label: String(format: "%032x", index), bytesSent: 1000 + index, bytesReceived: 2000, framesSent: 10,
                  framesReceived: 20, queuedBytes: 5)
        }
        sample.peers.append(.init(label: "other", bytesSent: 7, bytesReceived: 8, framesSent: 1, framesReceived: 2, queuedBytes: nil))
        sample.handshakeFailures = ["membership": ["authentication": 3], "listener": ["refused": 4, "timeout": 1]]
        sample.acceptBackoffs = 2
        return sample
    }

    func testPeerFamiliesParseAndCarryTheTotals() throws {
        var relay = MetricsExpositionTests.fullSample()
        relay.peers = Self.sample()
        let text = String(decoding: MetricsExporter().exposition(of: relay), as: UTF8.self)
        let families = try PrometheusText.parse(text)
        let peer = "0000000000000000000000000000000" + "1"
        XCTAssertEqual(families["plexus_peer_sent_bytes_total"]?.samples["plexus_peer_sent_bytes_total{peer=\"\(peer)\"}"], 1001)
        XCTAssertEqual(families["plexus_peer_received_frames_total"]?.samples["plexus_peer_received_frames_total{peer=\"other\"}"], 2)
        XCTAssertEqual(families["plexus_peer_queue_bytes"]?.type, "gauge")
        XCTAssertEqual(families["plexus_peer_queue_bytes"]?.samples.count, 2, "no queue figure for the other bucket")
        let failures = try XCTUnwrap(families["plexus_peer_handshake_failures_total"])
        XCTAssertEqual(failures.samples.count, PeerMetricsSample.kinds.count * PeerMetricsSample.reasons.count)
        XCTAssertEqual(failures.samples["plexus_peer_handshake_failures_total{kind=\"membership\",reason=\"authentication\"}"], 3)
        XCTAssertEqual(failures.samples["plexus_peer_handshake_failures_total{kind=\"listener\",reason=\"refused\"}"], 4)
        XCTAssertEqual(failures.samples["plexus_peer_handshake_failures_total{kind=\"session\",reason=\"timeout\"}"], 0)
        XCTAssertEqual(families["plexus_peer_port_accept_backoffs_total"]?.samples["plexus_peer_port_accept_backoffs_total"], 2)
        for (name, family) in families where name.hasPrefix("plexus_peer") {
            XCTAssertEqual(family.type == "counter", name.hasSuffix("_total"), name)
        }
        try PrometheusText.checkWithPromtool(text)
    }

    func testPeerLabelsAreBounded() throws {
        let text = MetricsExporter.peerText(Self.sample(peers: 400))
        let families = try PrometheusText.parse(text)
        XCTAssertEqual(families["plexus_peer_sent_frames_total"]?.samples.count, PeerMetricsSample.maximumPeerLabels)
    }

    func testWithoutPeerSampleNoPeerFamily() {
        let text = String(decoding: MetricsExporter().exposition(of: MetricsExpositionTests.fullSample()), as: UTF8.self)
        XCTAssertFalse(text.contains("plexus_peer_"))
    }
}
