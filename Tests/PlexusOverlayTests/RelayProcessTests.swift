#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PlexusCrypto
import PlexusOverlay
import PlexusProcesses
import XCTest

/// Real `plexus relay` processes on loopback.
final class RelayProcessTests: XCTestCase {
    /// Documented bound (Docs/overlay-transport.md) for `kill -9` → dead on every survivor, lan profile, 3 relays.
    static let deathDetectionBound = 10.0

    func state(of node: String, in status: OverlayStatus?) -> String? {
        status?.members.first { $0.node == node }?.state
    }

    func testThreeRelaysJoinDetectKillRejoinAndRefuseForeignKey() throws {
        let processes = try RelayProcesses()
        defer {
            processes.stopAll()
            try? FileManager.default.removeItem(at: processes.directory)
        }
        let key = processes.path("network.key")
        let otherKey = processes.path("other.key")
        XCTAssertEqual(try processes.run(["keygen", "--out", key]).status, 0)
        XCTAssertEqual(try processes.run(["keygen", "--out", otherKey]).status, 0)
        // Without a key (and without --dev) the relay refuses to start; status without a relay fails cleanly.
        XCTAssertNotEqual(try processes.run(["relay", "--port", "\(freePort())"]).status, 0)
        XCTAssertEqual(try processes.run(["status", "--admin-port", "\(freePort())"]).status, 1)

        let r1 = RelaySpec(name: "r1"), r2 = RelaySpec(name: "r2"), r3 = RelaySpec(name: "r3"), stranger = RelaySpec(name: "stranger")
        try processes.startRelay(r1, key: key, join: [])
        try processes.startRelay(r2, key: key, join: [r1])
        try processes.startRelay(r3, key: key, join: [r1, r2])
        try processes.startRelay(stranger, key: otherKey, join: [r1, r2])

        // 1. All three see all three alive.
        var statuses: [String: OverlayStatus] = [:]
        let converged = waitUntil(15) {
            for relay in [r1, r2, r3] {
                guard let status = processes.status(adminPort: relay.adminPort),
                      status.members.filter({ $0.state == "alive" }).count == 3 else { return false }
                statuses[relay.name] = status
            }
            return true
        }
        XCTAssertTrue(converged, "relays did not converge; r1 log:\n\(processes.log("r1"))")
        guard converged else { return }
        let id1 = statuses["r1"]!.node, id3 = statuses["r3"]!.node
        XCTAssertEqual(Set(statuses.values.map(\.node)).count, 3)
        XCTAssertEqual(statuses["r1"]!.members.first { $0.node == id3 }?.zone, "zone-r3")
        XCTAssertTrue(processes.log("r1").contains("member alive"), "membership changes are logged at info")

        // 1b. Local clients change the relay's own directory record, seen by the other relays.
        try processes.start("serve-a", ["serve", "billing", "--echo", "--port", "\(r1.clientPort)"])
        try processes.start("serve-b", ["serve", "billing", "--echo", "--port", "\(r1.clientPort)"])
        try processes.start("subscriber", ["subscribe", "orders", "--port", "\(r2.clientPort)"])
        let id2 = statuses["r2"]!.node
        let advertised = waitUntil(10) {
            guard let status = processes.status(adminPort: r3.adminPort) else { return false }
            let m1 = status.members.first { $0.node == id1 }, m2 = status.members.first { $0.node == id2 }
            // capacity = local members × the relay's member concurrency (16)
            return m1?.clusters == [ClusterInfo(name: "billing", capacity: 2 * 16)] && m2?.topics == ["orders"]
        }
        XCTAssertTrue(advertised, "own records not updated: \(String(describing: processes.status(adminPort: r3.adminPort)?.members))")
        processes.signal("serve-a", SIGKILL)
        processes.waitExit("serve-a")
        processes.signal("subscriber", SIGKILL)
        processes.waitExit("subscriber")
        let updated = waitUntil(10) {
            guard let status = processes.status(adminPort: r3.adminPort) else { return false }
            let m1 = status.members.first { $0.node == id1 }, m2 = status.members.first { $0.node == id2 }
            return m1?.clusters == [ClusterInfo(name: "billing", capacity: 16)] && m2?.topics == []
        }
        XCTAssertTrue(updated, "own records not updated after clients left")

        // 2. The relay with another network key is in nobody's list; its session attempts fail
        //    (counted), and datagrams sealed with its key are counted as dropped, never applied.
        let strangerStatus = processes.status(adminPort: stranger.adminPort)
        XCTAssertEqual(strangerStatus?.members.count, 1, "the stranger sees only itself")
        let strangerID = strangerStatus?.node ?? "?"
        let foreign = GossipSeal(keyring: Keyring(primary: try NetworkKey.load(from: otherKey)))
        for _ in 0..<3 {
            sendDatagram(foreign.seal(Array(repeating: 1, count: 40), to: GossipDestination(address: [127, 0, 0, 1], port: UInt16(r1.peerPort))!,
                                      timestamp: Int64(Date().timeIntervalSince1970 * 1000)),
                         toPort: r1.peerPort)
        }
        sendDatagram([0x01, 0x02, 0x03], toPort: r1.peerPort)
        let counted = waitUntil(5) {
            guard let c = processes.status(adminPort: r1.adminPort)?.counters else { return false }
            return c.droppedAuthentication >= 3 && c.droppedMalformed >= 1 && c.streamFailures >= 1
        }
        XCTAssertTrue(counted, "foreign traffic not counted: \(String(describing: processes.status(adminPort: r1.adminPort)?.counters))")
        for relay in [r1, r2, r3] {
            XCTAssertNil(state(of: strangerID, in: processes.status(adminPort: relay.adminPort)), "stranger visible at \(relay.name)")
        }

        // 3. kill -9 r3: r1 and r2 declare it dead within the documented bound.
        processes.signal("r3", SIGKILL)
        let killedAt = Date()
        var seenDead: [String: Double] = [:]
        let dead = waitUntil(Self.deathDetectionBound + 5) {
            for relay in [r1, r2] where seenDead[relay.name] == nil {
                if state(of: id3, in: processes.status(adminPort: relay.adminPort)) == "dead" {
                    seenDead[relay.name] = Date().timeIntervalSince(killedAt)
                }
            }
            return seenDead.count == 2
        }
        processes.waitExit("r3")
        print("kill -9 → dead: r1 after \(seenDead["r1"] ?? -1) s, r2 after \(seenDead["r2"] ?? -1) s")
        XCTAssertTrue(dead, "death not detected on both survivors: \(seenDead)")
        XCTAssertLessThanOrEqual(seenDead.values.max() ?? .infinity, Self.deathDetectionBound)

        // 4. Restart r3 with the same data directory: same node ID, alive again everywhere.
        try processes.startRelay(r3, key: key, join: [r1])
        let rejoined = waitUntil(15) {
            guard let own = processes.status(adminPort: r3.adminPort), own.node == id3,
                  own.members.filter({ $0.state == "alive" }).count == 3 else { return false }
            return [r1, r2].allSatisfy { state(of: id3, in: processes.status(adminPort: $0.adminPort)) == "alive" }
        }
        XCTAssertTrue(rejoined, "r3 did not rejoin under its node ID; r3 log:\n\(processes.log("r3"))")

        // 5. SIGTERM r2: it leaves gracefully; r1 sees "left", not "dead".
        processes.signal("r2", SIGTERM)
        let left = waitUntil(5) { state(of: id2, in: processes.status(adminPort: r1.adminPort)) == "left" }
        processes.waitExit("r2")
        XCTAssertTrue(left, "graceful leave not seen by r1")
        if let c = processes.status(adminPort: r1.adminPort)?.counters {
            print("r1 datagrams: sent \(c.datagramsSent), bytes \(c.datagramBytesSent), mean \(c.datagramBytesSent / max(1, c.datagramsSent)) B, largest \(c.largestDatagramSent) B; streams opened \(c.streamsOpened), routed to stream \(c.datagramsRoutedToStream)")
            XCTAssertLessThanOrEqual(c.largestDatagramSent, 1_400 + GossipSeal.overhead)
        }
        XCTAssertTrue(processes.log("r2").contains("leaving the overlay"))
        XCTAssertNotEqual(id1, id3)
    }
}
