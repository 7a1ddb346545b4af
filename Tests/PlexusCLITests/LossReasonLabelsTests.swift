import PlexusHTTP
import PlexusRelayCore
import XCTest

/// The `reason` labels of `plexus_events_lost_total` / `plexus_broadcasts_lost_total` are exactly
/// the relay core's loss reasons (the exporter cannot import the core, so they are listed twice).
final class LossReasonLabelsTests: XCTestCase {
    func testExporterListsEveryLossReasonOfTheCore() {
        XCTAssertEqual(MetricsExporter.lossReasons, LossReason.allCases.map(\.rawValue))
    }
}
