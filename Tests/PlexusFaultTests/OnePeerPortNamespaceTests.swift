import Foundation
import PlexusFaultBed
import PlexusProcesses
import XCTest

/// Issue 13, "Done when" (network): three relays in separate network namespaces (own addresses,
/// no loopback between them) form an overlay using only `--peer-port` and `--join` (no
/// `--advertise`), behind nftables that let only the peer port (TCP + UDP, plus established
/// traffic) in and out, and carry all four patterns, driven by `plexus` clients in the namespaces.
final class OnePeerPortNamespaceTests: XCTestCase {
    func testThreeRelaysBehindPeerPortOnlyFirewallsCarryAllFourPatterns() throws {
        let started = Date()
        let bed = try makeFaultBed(relays: 3)
        defer { bed.tearDown() }
        for index in 0..<3 { try bed.allowOnlyPeerPort(index) }
        try bed.startWithPeerPortOnly(0, join: [1])
        try bed.startWithPeerPortOnly(1, join: [0])
        try bed.startWithPeerPortOnly(2, join: [0])
        guard let nodes = bed.waitUntilAllAlive(timeout: 20) else {
            XCTFail("the overlay never formed behind the firewalls; relay 2 log:\n\(bed.log(2))")
            return
        }
        // Without --advertise each relay chose its own namespace address (the route to its seed).
        let status = try XCTUnwrap(bed.status(2))
        for index in 0..<3 {
            let member = status.members.first { $0.node == nodes[index] }
            XCTAssertEqual(member?.address, "\(bed.relays[index].address):\(FaultBedRelay.peerPort)", "relay \(index)'s advertised address")
        }

        // A service on relay 0, a subscriber on relay 1, the clients on relay 2.
        try bed.startHelper(in: 0, bed.processes.binary,
                            ["serve", "work", "--echo", "--print-broadcasts", "--port", "\(FaultBedRelay.clientPort)"], output: "serve.out")
        try bed.startSubscriber(on: 1, topic: "news", output: "subscribe.out")
        let visible = waitUntil(15) {
            guard let members = bed.status(2)?.members else { return false }
            return members.contains { $0.node == nodes[0] && $0.clusters.contains { $0.name == "work" } }
                && members.contains { $0.node == nodes[1] && $0.topics.contains("news") }
        }
        XCTAssertTrue(visible, "relay 2 never saw the service on relay 0 and the subscription on relay 1")

        // Request/reply.
        let reply = bed.runClient(on: 2, ["request", "work", "across the firewall"])
        XCTAssertEqual(reply?.status, 0)
        XCTAssertEqual(reply?.output.trimmingCharacters(in: .whitespacesAndNewlines), "across the firewall")
        // Broadcast.
        XCTAssertEqual(bed.runClient(on: 2, ["broadcast", "work", "to everyone"])?.status, 0)
        XCTAssertTrue(waitUntil(10) { bed.helperOutput("serve.out").contains("to everyone") }, "the broadcast never arrived")
        // Publish/subscribe.
        XCTAssertEqual(bed.runClient(on: 2, ["publish", "news", "extra"])?.status, 0)
        XCTAssertTrue(waitUntil(10) { bed.helperOutput("subscribe.out").contains("extra") }, "the event never arrived")
        // Tunnel: standard input through relay 2 → relay 0 → the echoing service, and back.
        let text = "through the tunnel, in order\n"
        let tunnel = bed.runClient(on: 2, ["tunnel", "work", "--quit-after", "500"], input: text, timeout: 15)
        XCTAssertEqual(tunnel?.status, 0)
        XCTAssertEqual(tunnel?.output, text)

        // The firewalls are really there: relay 1's namespace cannot reach another port of relay 0.
        let dropsBefore = bed.firewallDrops(at: 1)
        let probe = bed.runInNamespace(1, "/bin/bash", ["-c", "exec 3<>/dev/tcp/\(bed.relays[0].address)/\(FaultBedRelay.clientPort)"],
                                       timeout: 2)
        XCTAssertNotEqual(probe?.status, 0, "a connection to a port other than the peer port went through")
        XCTAssertGreaterThan(bed.firewallDrops(at: 1), dropsBefore, "the firewall of relay 1 dropped nothing")
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertLessThan(elapsed, 60)
        print(String(format: "one peer port: 3 relays in namespaces, peer-port-only nftables, all four patterns in %.1f s", elapsed))
    }
}
