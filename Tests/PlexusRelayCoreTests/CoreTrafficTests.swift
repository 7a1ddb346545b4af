import NIOCore
@testable import PlexusRelayCore
import PlexusTelemetry
import PlexusWire
import XCTest

/// The core's traffic counters behind the metrics: requests by outcome with their latency,
/// events and broadcasts in and out, handshake timeouts.
final class CoreTrafficTests: XCTestCase {
    func testRequestsAreCountedByOutcomeWithTheirLatency() {
        var h = CoreHarness()
        let svc = h.connect("svc"), c = h.connect(nil)
        h.receive(.request(id: 1, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 1000), from: c)
        _ = h.advance(milliseconds: 3)
        h.receive(.reply(id: 0, outcome: .success(s("a"))), from: svc)          // ok after 3 ms
        h.receive(.request(id: 2, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 1000), from: c)
        h.receive(.reply(id: 1, outcome: .fault(s("boom"))), from: svc)        // fault
        h.receive(.request(id: 3, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 10), from: c)
        _ = h.advance(milliseconds: 10)                                         // timed out
        h.receive(.request(id: 4, cluster: s("nobody"), payload: s("q"), timeoutMilliseconds: 10), from: c) // refused
        let traffic = h.core.statistics.traffic
        XCTAssertEqual(traffic.requestsByOutcome, [1, 1, 1, 1, 0]) // ok, fault, timed out, refused, failed
        XCTAssertEqual(traffic.requestLatency.count, 4)
        XCTAssertGreaterThanOrEqual(traffic.requestLatency.sumNanoseconds, 13_000_000) // 3 ms + 10 ms at least
    }

    func testEventsAndBroadcastsInAndOutAndHandshakeTimeouts() {
        var h = CoreHarness()
        let a = h.connect("svc"), b = h.connect("svc")
        h.receive(.subscribe(topic: s("t")), from: a)
        h.receive(.subscribe(topic: s("t")), from: b)
        h.receive(.publish(topic: s("t"), event: s("e")), from: a)
        h.receive(.broadcast(cluster: s("svc"), message: s("m")), from: a)
        _ = h.open() // never handshakes
        _ = h.advance(milliseconds: 5_000)
        let traffic = h.core.statistics.traffic
        XCTAssertEqual(traffic.eventsIn, 1)
        XCTAssertEqual(traffic.eventsOut, 2)
        XCTAssertEqual(traffic.broadcastsIn, 1)
        XCTAssertEqual(traffic.broadcastsOut, 2)
        XCTAssertEqual(traffic.handshakeFailures[HandshakeFailure.allCases.firstIndex(of: .timeout) ?? 0], 1)
    }

    func testMalformedClientHandshakesAreCounted() {
        var h = CoreHarness()
        let notIris = h.open()
        h.receive(.subscribe(topic: s("t")), from: notIris)                       // not INIT first
        let oldClient = h.open()
        h.receive(.initiate(version: s("v0.9"), cluster: s("")), from: oldClient) // unsupported version
        let garbage = h.open()
        h.core.decodeFailed(garbage, error: "bad magic")                           // undecodable
        XCTAssertEqual(h.core.statistics.traffic.handshakeFailures(.malformed), 3)
        XCTAssertEqual(h.core.statistics.traffic.handshakeFailures(.timeout), 0)
    }
}
