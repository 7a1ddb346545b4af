import NIOCore
import PlexusVocabulary
@testable import PlexusRelayCore
import PlexusWire
import XCTest

/// Events and broadcasts that cannot reach a receiver are counted by reason, never lost silently
/// (issue 10, defect 5).
final class CoreLossTests: XCTestCase {
    func testEventsToARelayWhoseLinkFailedAreCountedAsRelayUnreachable() {
        var overlay = VirtualOverlay(relays: 2)
        let subscriber = overlay.connect(1)
        let publisher = overlay.connect(0)
        overlay.receive(.subscribe(topic: s("news")), from: subscriber, on: 1)
        _ = overlay.connect(1, "svc")
        overlay.publishDirectory()
        // Delivered while the link is up.
        let delivered = overlay.receive(.publish(topic: s("news"), event: s("1")), from: publisher, on: 0)
        XCTAssertEqual(delivered[1].compactMap { $0.packet(for: subscriber) }, [.publish(topic: s("news"), event: s("1"))])
        // Relay 1's link fails: it stays in the directory, quarantined; what is sent there now is lost, and counted.
        _ = overlay.peerFailed(overlay.ids[1], seenBy: 0)
        overlay.receive(.publish(topic: s("news"), event: s("2")), from: publisher, on: 0)
        overlay.receive(.broadcast(cluster: s("svc"), message: s("b")), from: publisher, on: 0)
        let statistics = overlay.relays[0].core.statistics
        XCTAssertEqual(statistics.lostEvents, ["relay-unreachable": 1])
        XCTAssertEqual(statistics.lostBroadcasts, ["relay-unreachable": 1])
        XCTAssertEqual(statistics.droppedEvents, ["news": 1])
    }
}
