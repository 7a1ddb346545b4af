import Foundation
import PlexusFaultBed
import PlexusProcesses
import XCTest

/// The harness's other faults on three relays: packet loss, SIGSTOP/SIGCONT, kill -9 and restart.
/// Each step asserts the overlay's reaction and prints how long it took.
final class ProcessFaultTests: XCTestCase {
    func testLossPauseKillAndRestart() throws {
        let bed = try makeFaultBed(relays: 3)
        defer { bed.tearDown() }
        try bed.startAll()
        guard let nodes = bed.waitUntilAllAlive(timeout: 20), let b = nodes[1], let c = nodes[2] else {
            XCTFail("the overlay never formed; relay 0 log:\n\(bed.log(0))")
            return
        }

        // 1. 10 % loss each way at relay 2 for 8 s: packets are dropped (nftables counters),
        //    nobody is declared dead, and the overlay is whole right after. (Before the UDP
        //    socket was re-bound after a refused send, this step saw 5–6 false deaths.)
        try bed.dropPackets(at: 2, percent: 10)
        Thread.sleep(forTimeInterval: 8) // the fault's duration, not a synchronisation
        let dropped = bed.droppedPackets(at: 2)
        bed.heal(2)
        XCTAssertGreaterThan(dropped, 0, "the loss rule dropped nothing")
        let lossDeaths = (0..<3).map { observer in
            nodes.values.reduce(0) { $0 + bed.loggedChanges(to: "dead", of: $1, by: observer) }
        }.reduce(0, +)
        XCTAssertEqual(lossDeaths, 0, "10 % loss caused a false death:\n"
                       + (0..<3).map { bed.log($0).split(separator: "\n").filter { $0.contains("member ") }.joined(separator: "\n") }
                           .joined(separator: "\n---\n"))
        let wholeAfterLoss = bed.secondsUntil(20) { bed.waitUntilAllAlive(timeout: 0) != nil }
        XCTAssertNotNil(wholeAfterLoss, "the overlay did not become whole after the loss ended")

        // 2. SIGSTOP relay 1: declared dead; SIGCONT: it refutes and is alive everywhere again.
        bed.pause(1)
        let pausedDetected = bed.secondsUntil(20) { bed.state(of: b, seenBy: 0) == "dead" && bed.state(of: b, seenBy: 2) == "dead" }
        XCTAssertNotNil(pausedDetected, "a frozen relay was never declared dead")
        bed.resume(1)
        let resumed = bed.secondsUntil(30) { bed.waitUntilAllAlive(timeout: 0) != nil }
        XCTAssertNotNil(resumed, "a resumed relay did not come back")

        // 3. kill -9 relay 2: declared dead; restart (same identity): alive everywhere again.
        bed.kill(2)
        let killDetected = bed.secondsUntil(20) { bed.state(of: c, seenBy: 0) == "dead" && bed.state(of: c, seenBy: 1) == "dead" }
        XCTAssertNotNil(killDetected, "a killed relay was never declared dead")
        try bed.start(2, join: [0])
        let restarted = bed.secondsUntil(30) { bed.waitUntilAllAlive(timeout: 0) != nil }
        XCTAssertNotNil(restarted, "a restarted relay did not rejoin")
        XCTAssertEqual(bed.status(2)?.node, c, "the restarted relay kept its identity (data directory)")

        func seconds(_ value: Double?) -> String { value.map { String(format: "%.1f s", $0) } ?? "never" }
        print("fault-bed: 10 % loss for 8 s → \(dropped) packets dropped, \(lossDeaths) deaths, whole after \(seconds(wholeAfterLoss)); SIGSTOP → dead after \(seconds(pausedDetected)), "
              + "SIGCONT → alive everywhere after \(seconds(resumed)); kill -9 → dead after \(seconds(killDetected)), "
              + "restart → alive everywhere after \(seconds(restarted))")
    }

    /// A send refused by the kernel (here nftables' output drop: EPERM) made NIO close the UDP
    /// socket, and the relay stayed deaf and mute on UDP for good. Now it binds it again.
    func testRefusedSendsDoNotSilenceARelay() throws {
        let bed = try makeFaultBed(relays: 2)
        defer { bed.tearDown() }
        try bed.startAll()
        guard bed.waitUntilAllAlive(timeout: 20) != nil else {
            XCTFail("the overlay never formed; relay 0 log:\n\(bed.log(0))")
            return
        }
        try bed.dropPackets(at: 1, percent: 100)
        let refused = waitUntil(10) { (bed.status(1)?.counters.datagramSendFailures ?? 0) > 0 }
        XCTAssertTrue(refused, "no send was refused during total loss")
        bed.heal(1)
        let receivedAfterHeal = bed.status(1)?.counters.datagramsReceived ?? 0
        let hearing = waitUntil(10) { (bed.status(1)?.counters.datagramsReceived ?? 0) > receivedAfterHeal + 3 }
        XCTAssertTrue(hearing, "relay 1 receives no datagram after the loss ended: \(String(describing: bed.status(1)?.counters))")
        XCTAssertGreaterThan(bed.status(1)?.counters.datagramSocketReopened ?? 0, 0)
        XCTAssertNotNil(bed.waitUntilAllAlive(timeout: 20), "the overlay did not become whole again")
    }

    func testTearDownRemovesEveryNamespace() throws {
        let bed = try makeFaultBed(relays: 2)
        let namespaces = [bed.bridgeNamespace] + bed.relays.map(\.namespace)
        try bed.startAll()
        try bed.partition(1, from: [0])
        bed.tearDown()
        let left = (try? FileManager.default.contentsOfDirectory(atPath: "/var/run/netns")) ?? []
        XCTAssertTrue(Set(namespaces).isDisjoint(with: left), "namespaces left behind: \(left)")
        XCTAssertFalse(bed.processes.isRunning("r0") || bed.processes.isRunning("r1"))
    }
}
