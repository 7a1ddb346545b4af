import Foundation
import PlexusFaultBed
import PlexusProcesses
import XCTest

/// Federation between "clouds" on the namespace bed (`Docs/federation.md`): two overlays of two
/// `plexus relay` processes each (own network keys, own namespaces and addresses), one gateway
/// each, the us → eu gateway link through a userspace proxy adding 40 ms each way.
final class FederationFaultTests: XCTestCase {
    /// Lines of a helper's output.
    func lines(_ bed: FaultBed, _ output: String) -> [String] {
        bed.helperOutput(output).split(separator: "\n").map(String.init)
    }

    func testTwoCloudsAcrossADelayedLink() throws {
        let bed = try makeFaultBed(relays: 5)
        defer { bed.tearDown() }
        let euKey = try bed.makeKey("eu.key"), usKey = try bed.makeKey("us.key"), rogueKey = try bed.makeKey("rogue.key")
        let federationKey = try bed.makeKey("federation.key"), wrongFederationKey = try bed.makeKey("wrong-federation.key")
        try bed.startFederated(0, .init(key: euKey, overlay: "eu", join: [1], federationKey: federationKey))
        try bed.startFederated(1, .init(key: euKey, overlay: "eu", join: [0]))
        try bed.startFederated(2, .init(key: usKey, overlay: "us", join: [3], federationKey: federationKey, gatewayJoins: [0],
                                        delayMilliseconds: 40))
        try bed.startFederated(3, .init(key: usKey, overlay: "us", join: [2]))
        try bed.startFederated(4, .init(key: rogueKey, overlay: "rogue", federationKey: wrongFederationKey, gatewayJoins: [0]))
        XCTAssertNotNil(bed.waitUntilAllAlive([0, 1], timeout: 20), "overlay eu formed")
        XCTAssertNotNil(bed.waitUntilAllAlive([2, 3], timeout: 20), "overlay us formed")
        XCTAssertNotNil(bed.status(4), "the rogue gateway runs")

        // Request: a client in eu, the only member of "echo" in us.
        try bed.startClient(on: 3, ["serve", "echo", "--echo", "--print-broadcasts"], output: "service-us.txt")
        var reply = ""
        let crossed = waitUntil(20) {
            reply = (try? bed.client(on: 1, ["request", "echo", "ping", "--timeout", "2000"]).output) ?? ""
            return reply.contains("ping")
        }
        XCTAssertTrue(crossed, "a request from eu reaches the member in us (last reply: \(reply))")
        var roundTrips: [Double] = []
        for index in 0..<5 {
            let started = Date()
            let result = try bed.client(on: 1, ["request", "echo", "r\(index)", "--timeout", "2000"])
            roundTrips.append(Date().timeIntervalSince(started))
            XCTAssertEqual(result.output.trimmingCharacters(in: .whitespacesAndNewlines), "r\(index)")
        }
        print("federation: eu → us request through a 40 ms-each-way link, process start included: \(summary(roundTrips))")
        XCTAssertGreaterThanOrEqual(roundTrips.min() ?? 0, 0.08, "the 80 ms WAN round trip is really there")

        // Broadcast: exactly once at the member in us.
        XCTAssertEqual(try bed.client(on: 1, ["broadcast", "echo", "b1"]).status, 0)
        XCTAssertTrue(waitUntil(10) { lines(bed, "service-us.txt").contains("b1") }, "the broadcast crossed")

        // Events: a subscriber in us; once one probe arrives, five events arrive once each, in order.
        try bed.startClient(on: 3, ["subscribe", "news"], output: "news-us.txt")
        var probe = 0
        let subscribed = waitUntil(20) {
            probe += 1
            _ = try? bed.client(on: 1, ["publish", "news", "probe\(probe)"])
            return lines(bed, "news-us.txt").contains { $0.hasPrefix("probe") }
        }
        XCTAssertTrue(subscribed, "the topic interest reached eu")
        for index in 1...5 { _ = try bed.client(on: 1, ["publish", "news", "e\(index)"]) }
        XCTAssertTrue(waitUntil(10) { lines(bed, "news-us.txt").contains("e5") })
        XCTAssertEqual(lines(bed, "news-us.txt").filter { $0.hasPrefix("e") }, ["e1", "e2", "e3", "e4", "e5"], "once each, in order")

        // Local first: once eu has a member of its own, no request crosses.
        try bed.startClient(on: 0, ["serve", "echo", "--exec", "echo local"], output: "service-eu.txt")
        let local = waitUntil(20) {
            ((try? bed.client(on: 1, ["request", "echo", "x", "--timeout", "2000"]).output) ?? "").contains("local")
        }
        XCTAssertTrue(local, "the new local member is used")
        for _ in 0..<10 {
            XCTAssertEqual(try bed.client(on: 1, ["request", "echo", "x", "--timeout", "2000"]).output
                .trimmingCharacters(in: .whitespacesAndNewlines), "local")
        }

        // The gateway with another federation key was refused and learned nothing.
        XCTAssertTrue(waitUntil(10) { bed.log(0).contains("handshake") }, "eu's gateway logged the failed handshakes")
        XCTAssertNotEqual(try bed.client(on: 4, ["request", "echo", "x", "--timeout", "500"]).status, 0,
                          "the rogue overlay cannot reach echo")
    }
}

extension FederationFaultTests {
    /// Three clouds in a full mesh of gateway links (each cloud one relay, its own gateway): a
    /// broadcast and events from eu reach us and ap exactly once each, in order — nothing is
    /// relayed through a third overlay.
    func testThreeCloudsExactlyOnceNoLoops() throws {
        let bed = try makeFaultBed(relays: 3)
        defer { bed.tearDown() }
        let federationKey = try bed.makeKey("federation.key")
        let keys = try ["eu", "us", "ap"].map { try bed.makeKey("\($0).key") }
        try bed.startFederated(0, .init(key: keys[0], overlay: "eu", federationKey: federationKey))
        try bed.startFederated(1, .init(key: keys[1], overlay: "us", federationKey: federationKey, gatewayJoins: [0], delayMilliseconds: 40))
        try bed.startFederated(2, .init(key: keys[2], overlay: "ap", federationKey: federationKey, gatewayJoins: [0, 1],
                                        delayMilliseconds: 40))
        for index in 0..<3 { XCTAssertTrue(waitUntil(20) { bed.status(index) != nil }, "relay \(index) runs") }
        for index in [1, 2] {
            try bed.startClient(on: index, ["subscribe", "news"], output: "news-\(index).txt")
            try bed.startClient(on: index, ["serve", "echo", "--echo", "--print-broadcasts"], output: "service-\(index).txt")
        }
        // Once a probe reached both, everything after it must arrive exactly once.
        var probe = 0
        let subscribed = waitUntil(30) {
            probe += 1
            _ = try? bed.client(on: 0, ["publish", "news", "probe\(probe)"])
            return [1, 2].allSatisfy { index in lines(bed, "news-\(index).txt").contains { $0.hasPrefix("probe") } }
        }
        XCTAssertTrue(subscribed, "eu learned news from us and ap")
        let echoed = waitUntil(30) {
            _ = try? bed.client(on: 0, ["broadcast", "echo", "warmup"])
            return [1, 2].allSatisfy { lines(bed, "service-\($0).txt").contains("warmup") }
        }
        XCTAssertTrue(echoed, "eu learned echo from us and ap")
        for index in 1...5 { _ = try bed.client(on: 0, ["publish", "news", "e\(index)"]) }
        XCTAssertEqual(try bed.client(on: 0, ["broadcast", "echo", "once"]).status, 0)
        _ = try bed.client(on: 0, ["publish", "news", "sentinel"])
        for index in [1, 2] {
            XCTAssertTrue(waitUntil(10) { lines(bed, "news-\(index).txt").contains("sentinel") })
            XCTAssertEqual(lines(bed, "news-\(index).txt").filter { $0.hasPrefix("e") || $0 == "sentinel" },
                           ["e1", "e2", "e3", "e4", "e5", "sentinel"], "relay \(index): once each, in order")
            XCTAssertTrue(waitUntil(10) { lines(bed, "service-\(index).txt").contains("once") })
            XCTAssertEqual(lines(bed, "service-\(index).txt").filter { $0 == "once" }.count, 1, "relay \(index): the broadcast once")
        }
    }
}
