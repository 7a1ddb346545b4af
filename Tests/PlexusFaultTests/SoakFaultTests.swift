import Foundation
import PlexusFaultBed
import PlexusProcesses
import XCTest

/// The soak (`scripts/soak.sh`, not part of `scripts/test.sh`): three relays for
/// `PLEXUS_SOAK_MINUTES` minutes with all four patterns running and churn cycling through kill -9
/// and restart, partition and heal, 5 % loss at every relay, and SIGSTOP/SIGCONT. Relays 0
/// (driver) and 1 (a member and subscriber) are never killed, cut off or frozen; relay 2 (a
/// member and subscriber too) takes every fault. Prints "SOAK" lines: each fault with its
/// detection and recovery times, relay RSS and CPU over time, and the final counts.
///
/// Asserted: nothing is duplicated anywhere (no request handled twice, no event or broadcast
/// received twice, no wrong reply, no tunnel byte changed); every request is answered or failed
/// with a reason; the member and subscriber on relay 1 miss nothing and see events in order;
/// relays 0 and 1 never declare each other dead.
final class SoakFaultTests: XCTestCase {
    /// The load's pacing: a request every 50 ms on each of 2 workers, an event every 50 ms, a
    /// broadcast every 200 ms, a 1 MiB tunnel every 500 ms.
    static let intervalMilliseconds = 50, tunnelBytes = 1 << 20
    /// Seconds at the end with no fault, so the last traffic is delivered before counting.
    static let quietTail = 30.0

    func testSoakWithChurnAndAllFourPatterns() throws {
        guard let minutes = ProcessInfo.processInfo.environment["PLEXUS_SOAK_MINUTES"].flatMap(Double.init), minutes > 0 else {
            throw XCTSkip("the soak runs only from scripts/soak.sh (PLEXUS_SOAK_MINUTES)")
        }
        let seconds = Int(minutes * 60)
        let bed = try makeFaultBed(relays: 3)
        defer { bed.tearDown() }
        try bed.startAll()
        guard let nodes = bed.waitUntilAllAlive(timeout: 30), let a = nodes[0], let b = nodes[1], let c = nodes[2] else {
            return XCTFail("the overlay never formed; relay 0 log:\n\(bed.log(0))")
        }
        let members = ["stable" : "member-1.out", "churned": "member-2.out"]
        try bed.startLoadMember(on: 1, seconds: seconds + 120, output: members["stable"]!)
        try bed.startLoadMember(on: 2, seconds: seconds + 120, output: members["churned"]!)
        XCTAssertTrue(bed.waitUntilReady(Array(members.values), timeout: 30), "the members never registered")
        guard waitUntil(30, { bed.seesLoad(on: [b, c], at: 0) }) else {
            return XCTFail("relay 0 never saw the members on relays 1 and 2")
        }
        let huge = "1000000000"
        try bed.startLoadDriver(on: 0, id: "d", arguments: [
            "--requests", huge, "--concurrency", "2", "--events", huge, "--broadcasts", huge, "--tunnels", huge,
            "--tunnel-bytes", "\(Self.tunnelBytes)", "--interval-ms", "\(Self.intervalMilliseconds)", "--seconds", "\(seconds)",
        ], output: "driver.out")
        let start = Date()
        func log(_ text: String) { print(String(format: "SOAK %6.0fs ", Date().timeIntervalSince(start)) + text) }
        func sample() { log("resources: " + (0..<3).map { "relay \($0) \(bed.resources($0))" }.joined(separator: "; ")) }
        let churnEnd = Double(seconds) - Self.quietTail
        var faults: [String: Int] = [:], detection: [String: [Double]] = [:], recovery: [String: [Double]] = [:]
        func record(_ kind: String, detected: Double?, recovered: Double?) {
            faults[kind, default: 0] += 1
            if let detected { detection[kind, default: []].append(detected) }
            if let recovered { recovery[kind, default: []].append(recovered) }
            log("\(kind): detected after \(detected.map { String(format: "%.1f s", $0) } ?? "-"), "
                + "whole again after \(recovered.map { String(format: "%.1f s", $0) } ?? "never (60 s)")")
        }
        func whole() -> Double? { bed.secondsUntil(60) { bed.waitUntilAllAlive(timeout: 0) != nil } }
        func pause(_ seconds: Double) { Thread.sleep(forTimeInterval: seconds) } // a fault's duration, not a synchronisation
        var step = 0
        sample()
        while Date().timeIntervalSince(start) < churnEnd {
            switch step % 5 {
            case 0:
                bed.kill(2)
                let detected = bed.secondsUntil(30) { bed.state(of: c, seenBy: 0) == "dead" }
                try bed.start(2, join: [0])
                record("kill -9 and restart relay 2", detected: detected, recovered: whole())
            case 1:
                try bed.partition(2, from: [0, 1])
                let detected = bed.secondsUntil(30) { bed.state(of: c, seenBy: 0) == "dead" }
                bed.heal(2)
                record("partition relay 2 until declared dead, heal", detected: detected, recovered: whole())
            case 2:
                for relay in 0..<3 { try bed.dropPackets(at: relay, percent: 5) }
                pause(20)
                let dropped = (0..<3).map { bed.droppedPackets(at: $0) }.reduce(0, +)
                for relay in 0..<3 { bed.heal(relay) }
                log("5 % loss at every relay for 20 s: \(dropped) packets dropped")
                record("5 % loss at every relay, 20 s", detected: nil, recovered: whole())
            case 3:
                bed.pause(2)
                pause(3)
                bed.resume(2)
                record("SIGSTOP relay 2 for 3 s", detected: nil, recovered: whole())
            default:
                pause(10)
            }
            step += 1
            sample()
        }
        guard let totals = bed.finalSummary("driver.out", timeout: Self.quietTail + 60) else {
            return XCTFail("the driver never finished: \(bed.helperOutput("driver.out").suffix(2000))")
        }
        pause(5) // the last events and broadcasts on their way
        sample()
        let audit = LoadAudit(members: members.mapValues { bed.helperOutput($0) }, publisher: "d")
        let stable = "stable", churned = "churned"
        let answered = count(totals, "requestsAnswered"), sent = count(totals, "requestsSent")
        let requestFailures = failures(totals, "requestFailures")
        let published = count(totals, "eventsPublished"), broadcasts = count(totals, "broadcastsSent")
        let falseDeaths = bed.loggedChanges(to: "dead", of: b, by: 0) + bed.loggedChanges(to: "dead", of: a, by: 1)
        log("faults: " + faults.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: "; "))
        for kind in faults.keys.sorted() {
            log("  \(kind): detection \(summary(detection[kind] ?? [])), recovery \(summary(recovery[kind] ?? []))")
        }
        log("requests: sent \(sent), answered \(answered) (p50 \(totals["latencyP50Ms"] ?? 0) ms, p99 \(totals["latencyP99Ms"] ?? 0) ms, max \(totals["latencyMaxMs"] ?? 0) ms), "
            + "wrong replies \(count(totals, "wrongReplies")), failed with a reason: \(requestFailures), "
            + "handled by members \(audit.requestsHandled), handled twice \(audit.requestsHandledTwice)")
        log("events: published \(published), publish failures \(failures(totals, "publishFailures")); "
            + "subscriber on relay 1: \(describe(audit.events[stable])); subscriber on relay 2 (churned): \(describe(audit.events[churned]))")
        log("broadcasts: sent \(broadcasts), failures \(failures(totals, "broadcastFailures")); "
            + "member on relay 1: \(describe(audit.broadcasts[stable])); member on relay 2 (churned): \(describe(audit.broadcasts[churned]))")
        log("tunnels: opened \(count(totals, "tunnelsOpened")), completed \(count(totals, "tunnelsCompleted")), "
            + "failed \(failures(totals, "tunnelFailures")); bytes sent \(count(totals, "tunnelBytesSent")), "
            + "echoed exactly \(count(totals, "tunnelBytesEchoed")), mismatched messages \(count(totals, "tunnelMismatches"))")
        log("deaths between relays 0 and 1 (never faulted): \(falseDeaths)")

        XCTAssertEqual(sent, answered + count(totals, "wrongReplies") + requestFailures.values.reduce(0, +),
                       "every request is answered or failed with a reason")
        XCTAssertEqual(count(totals, "wrongReplies"), 0)
        XCTAssertEqual(audit.requestsHandledTwice, 0)
        XCTAssertEqual(count(totals, "tunnelMismatches"), 0)
        XCTAssertEqual(audit.events[stable], LoadAudit.Stream(received: published, highest: published - 1), "events on relay 1")
        XCTAssertEqual(audit.broadcasts[stable], LoadAudit.Stream(received: broadcasts, highest: broadcasts - 1), "broadcasts on relay 1")
        XCTAssertEqual(audit.events[churned]?.duplicates, 0)
        XCTAssertEqual(audit.events[churned]?.outOfOrder, 0)
        XCTAssertEqual(audit.broadcasts[churned]?.duplicates, 0)
        XCTAssertEqual(falseDeaths, 0)
    }

    private func describe(_ stream: LoadAudit.Stream?) -> String {
        guard let s = stream else { return "nothing" }
        return "received \(s.received), duplicates \(s.duplicates), missing between first and last \(s.gaps), out of order \(s.outOfOrder)"
    }
}
