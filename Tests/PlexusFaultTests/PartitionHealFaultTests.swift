import Foundation
import PlexusFaultBed
import PlexusProcesses
import XCTest

/// Issue 10, defect 4, with real `plexus relay` processes: relay 2 of three is cut off (nftables,
/// both directions) until both sides declare the other dead, then healed. Relays 0 and 1 were
/// never cut off: neither may ever declare the other dead (read from their logs, which record
/// every membership change, so a flap between two status polls is not missed).
final class PartitionHealFaultTests: XCTestCase {
    /// Cycles in CI (about 11 s each). `PLEXUS_FAULT_CYCLES` overrides (`scripts/fault-soak.sh` runs 10).
    static let ciCycles = 3

    func testHealingAPartitionNeverKillsRelaysThatWereNotCutOff() throws {
        let bed = try makeFaultBed(relays: 3)
        defer { bed.tearDown() }
        try bed.startAll()
        guard let nodes = bed.waitUntilAllAlive(timeout: 20), let a = nodes[0], let b = nodes[1], let c = nodes[2] else {
            XCTFail("the overlay never formed; relay 0 log:\n\(bed.log(0))")
            return
        }
        let cycles = ProcessInfo.processInfo.environment["PLEXUS_FAULT_CYCLES"].flatMap(Int.init) ?? Self.ciCycles
        // Events from relay 0 to a subscriber on relay 1 (never cut off) all through the cycles.
        try bed.startSubscriber(on: 1, topic: "ticks", output: "subscriber.out")
        guard waitUntil(15, { bed.status(0)?.members.first { $0.node == b }?.topics.contains("ticks") == true }) else {
            XCTFail("relay 0 never saw the subscription on relay 1")
            return
        }
        try bed.startCountingPublisher(on: 0, topic: "ticks", seconds: 15 * cycles + 30)
        guard waitUntil(15, { !bed.helperOutput("subscriber.out").isEmpty }) else {
            XCTFail("no event reached the subscriber before the partitions")
            return
        }
        var detection: [Double] = [], recovery: [Double] = []
        for cycle in 0..<cycles {
            try bed.partition(2, from: [0, 1])
            let separated = bed.secondsUntil(25) {
                bed.state(of: c, seenBy: 0) == "dead" && bed.state(of: c, seenBy: 1) == "dead"
                    && bed.state(of: a, seenBy: 2) == "dead" && bed.state(of: b, seenBy: 2) == "dead"
            }
            XCTAssertNotNil(separated, "cycle \(cycle): the sides never declared each other dead")
            if let separated { detection.append(separated) }
            bed.heal(2)
            let healed = bed.secondsUntil(30) { bed.waitUntilAllAlive(timeout: 0) != nil }
            XCTAssertNotNil(healed, "cycle \(cycle): the overlay did not become whole again")
            if let healed { recovery.append(healed) }
        }
        // Events published after the cycles must arrive too; then look for gaps.
        let lastBefore = received(bed.helperOutput("subscriber.out")).max() ?? 0
        XCTAssertTrue(waitUntil(15) { (received(bed.helperOutput("subscriber.out")).max() ?? 0) > lastBefore + 3 },
                      "events stopped reaching the subscriber")
        let events = received(bed.helperOutput("subscriber.out"))
        let first = events.min() ?? 0, last = events.max() ?? 0
        let lost = (first...last).count - Set(events).count
        XCTAssertEqual(lost, 0, "events between relays that were never cut off were lost")
        let falseDeaths = bed.loggedChanges(to: "dead", of: b, by: 0) + bed.loggedChanges(to: "dead", of: a, by: 1)
        let suspicions = bed.loggedChanges(to: "suspect", of: b, by: 0) + bed.loggedChanges(to: "suspect", of: a, by: 1)
        XCTAssertEqual(falseDeaths, 0, "relays never cut off declared each other dead; relay 0 log:\n\(bed.log(0))")
        print("fault-bed partition/heal, \(cycles) cycles: both sides see the other dead after \(summary(detection)); "
              + "whole again after heal in \(summary(recovery)); deaths among never-cut-off relays: \(falseDeaths); "
              + "suspicions among them: \(suspicions); events from relay 0 to a subscriber on relay 1: "
              + "\(Set(events).count) received (\(first)…\(last)), \(lost) lost")
    }

    /// The events a counting publisher's subscriber printed, one number per line.
    private func received(_ output: String) -> [Int] {
        output.split(separator: "\n").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }
}
