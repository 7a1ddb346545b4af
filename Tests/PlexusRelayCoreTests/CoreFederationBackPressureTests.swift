import NIOCore
import PlexusMembership
import PlexusPeerWire
@testable import PlexusRelayCore
import PlexusVocabulary
import PlexusWire
import XCTest

/// Back-pressure across a gateway link in the core (`Docs/federation.md` §6): the gateway relay
/// counts what it handed to its gateway, tells its feeders when that is over the soft bound, they
/// pause the publishing clients, and resume them when the gateway drains or the gateway relay fails.
final class CoreFederationBackPressureTests: XCTestCase {
    func pauses(_ outputs: [CoreHarness.Output]) -> [CoreHarness.Output] {
        outputs.filter { if case .pause = $0 { true } else { false } }
    }

    func resumes(_ outputs: [CoreHarness.Output]) -> [CoreHarness.Output] {
        outputs.filter { if case .resume = $0 { true } else { false } }
    }

    func testPublishersFeedingABusyGatewayArePausedAndResumed() {
        var overlay = VirtualOverlay(relays: 2)
        overlay.records[overlay.ids[1]]?.gatewayRoutes = [GatewayRoute(kind: .topic, overlay: PlexusMembership.Name("eu"),
                                                                        name: PlexusMembership.Name("news"))]
        let publisher = overlay.connect(0)
        let localPublisher = overlay.connect(1)
        overlay.publishDirectory()
        let big = ByteBuffer(repeating: 0x65, count: 500_000)
        var out: [[CoreHarness.Output]] = []
        for _ in 0..<4 {
            out = overlay.receive(.publish(topic: s("news"), event: big), from: publisher, on: 0)
            XCTAssertEqual(pauses(out[0]), [], "2 MiB handed over at most: under the soft bound")
        }
        // The fifth crosses the bound at the gateway relay: relay 0 hears of it, the next publish pauses its client.
        out = overlay.receive(.publish(topic: s("news"), event: big), from: publisher, on: 0)
        out = overlay.receive(.publish(topic: s("news"), event: big), from: publisher, on: 0)
        XCTAssertEqual(pauses(out[0]), [.pause(publisher)], "\(out[0])")
        XCTAssertTrue(out[1].contains { if case .federation(.publish) = $0 { true } else { false } }, "its event still went")
        out = overlay.receive(.publish(topic: s("news"), event: big), from: localPublisher, on: 1)
        XCTAssertEqual(pauses(out[1]), [.pause(localPublisher)], "a client of the gateway relay itself is paused too")

        // The gateway reports most of it written: at half the bound both are resumed.
        out = overlay.on(1) { harness in
            harness.core.federationDrained(overlay: s("eu"), bytes: 7 * 500_004, now: harness.now)
            return harness.collect()
        }
        XCTAssertEqual(resumes(out[0]), [.resume(publisher)])
        XCTAssertEqual(resumes(out[1]), [.resume(localPublisher)])

        // Busy again, then the gateway relay fails: relay 0 does not keep its client paused.
        for _ in 0..<6 { out = overlay.receive(.publish(topic: s("news"), event: big), from: publisher, on: 0) }
        XCTAssertEqual(pauses(out[0]), [.pause(publisher)])
        out = overlay.peerFailed(overlay.ids[1], seenBy: 0)
        XCTAssertEqual(resumes(out[0]), [.resume(publisher)])
    }

    func testAStoppedGatewayReleasesItsPublishers() {
        var overlay = VirtualOverlay(relays: 1)
        overlay.records[overlay.ids[0]]?.gatewayRoutes = [GatewayRoute(kind: .topic, overlay: PlexusMembership.Name("eu"),
                                                                        name: PlexusMembership.Name("news"))]
        let publisher = overlay.connect(0)
        overlay.publishDirectory()
        let big = ByteBuffer(repeating: 0x65, count: 1024 * 1024)
        var out: [[CoreHarness.Output]] = []
        out = overlay.receive(.publish(topic: s("news"), event: big), from: publisher, on: 0)
        XCTAssertEqual(pauses(out[0]), [], "1 MiB handed over: under the soft bound")
        out = overlay.receive(.publish(topic: s("news"), event: big), from: publisher, on: 0)
        XCTAssertEqual(pauses(out[0]), [.pause(publisher)], "over 2 MiB: this relay is the gateway relay, its client is paused at once")
        out = overlay.on(0) { harness in
            harness.core.federationGatewayStopped(now: harness.now)
            return harness.collect()
        }
        XCTAssertEqual(resumes(out[0]), [.resume(publisher)], "nothing will be reported drained any more")
    }
}
