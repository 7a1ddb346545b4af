import Foundation
@testable import PlexusHTTP
import XCTest

/// A gateway's `/metrics` figures (`FederationMetricsSample`): valid exposition, per-overlay
/// queue, refusals counted.
final class FederationMetricsTests: XCTestCase {
    func testGatewayFiguresAreExposedPerOverlay() throws {
        var sample = MetricsExpositionTests.fullSample()
        var federation = FederationMetricsSample()
        federation.links = [
            .init(overlay: "us", queuedBytes: 1000, pendingRequests: 2, tunnels: 1, roundTripSeconds: 0.081),
            .init(overlay: "us", queuedBytes: 500, pendingRequests: 0, tunnels: 0, roundTripSeconds: 0.080),
            .init(overlay: "ap", queuedBytes: 0, pendingRequests: 0, tunnels: 0, roundTripSeconds: nil),
        ]
        federation.refusedFanOut = 3
        federation.unauthenticatedClosed = 4
        sample.federation = federation
        let text = String(decoding: MetricsExporter().exposition(of: sample), as: UTF8.self)
        let families = try PrometheusText.parse(text)
        XCTAssertEqual(families["plexus_gateway_links"]?.samples["plexus_gateway_links"], 3)
        XCTAssertEqual(families["plexus_gateway_queue_bytes"]?.samples["plexus_gateway_queue_bytes{overlay=\"us\"}"], 1500)
        XCTAssertEqual(families["plexus_gateway_queue_bytes"]?.samples["plexus_gateway_queue_bytes{overlay=\"ap\"}"], 0)
        XCTAssertEqual(families["plexus_gateway_tunnels"]?.samples["plexus_gateway_tunnels{overlay=\"us\"}"], 1)
        XCTAssertEqual(families["plexus_gateway_round_trip_seconds"]?.samples["plexus_gateway_round_trip_seconds{overlay=\"us\"}"], 0.080)
        XCTAssertEqual(families["plexus_gateway_fanout_refused_total"]?.samples["plexus_gateway_fanout_refused_total"], 3)
        XCTAssertEqual(families["plexus_gateway_unauthenticated_closed_total"]?.samples["plexus_gateway_unauthenticated_closed_total"], 4)
        let plain = try PrometheusText.parse(String(decoding: MetricsExporter().exposition(of: MetricsExpositionTests.fullSample()),
                                                            as: UTF8.self))
        XCTAssertNil(plain["plexus_gateway_links"], "a relay that is not a gateway has no gateway figures")
    }
}
