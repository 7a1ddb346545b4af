import Foundation
import PlexusFaultBed
import PlexusProcesses
import XCTest

/// Issue 10: 5 % packet loss with all four patterns exact. Three relays, each dropping 5 % of
/// the packets it receives and 5 % of those it sends (nftables, so a path between two relays
/// loses about 10 %); a driver on relay 0; a member of cluster "load" that subscribes to
/// "load-events" on relays 1 and 2. Asserted: every request answered with its own payload and
/// handled exactly once by one member; every event received by both subscribers exactly once
/// and in order; every broadcast received by both members exactly once; every tunnel byte
/// echoed back exactly.
final class LossFaultTests: XCTestCase {
    /// The load: requests, events, broadcasts, tunnels and bytes per tunnel.
    static let requests = 600, events = 600, broadcasts = 100, tunnels = 3, tunnelBytes = 4 << 20
    /// Loss at each relay, each direction.
    static let lossPercent = 5

    func testFivePercentLossLosesNothingInAnyPattern() throws {
        let bed = try makeFaultBed(relays: 3)
        defer { bed.tearDown() }
        try bed.startAll()
        guard let nodes = bed.waitUntilAllAlive(timeout: 20), let b = nodes[1], let c = nodes[2] else {
            return XCTFail("the overlay never formed; relay 0 log:\n\(bed.log(0))")
        }
        let members = ["member-1.out", "member-2.out"]
        try bed.startLoadMember(on: 1, seconds: 120, output: members[0])
        try bed.startLoadMember(on: 2, seconds: 120, output: members[1])
        XCTAssertTrue(bed.waitUntilReady(members, timeout: 20), "the members never registered")
        guard waitUntil(20, { bed.seesLoad(on: [b, c], at: 0) }) else {
            return XCTFail("relay 0 never saw the members on relays 1 and 2")
        }
        for relay in 0..<3 { try bed.dropPackets(at: relay, percent: Self.lossPercent) }
        let start = Date()
        try bed.startLoadDriver(on: 0, id: "d", arguments: [
            "--requests", "\(Self.requests)", "--concurrency", "4", "--events", "\(Self.events)",
            "--broadcasts", "\(Self.broadcasts)", "--tunnels", "\(Self.tunnels)", "--tunnel-bytes", "\(Self.tunnelBytes)",
            "--interval-ms", "10", "--request-timeout-ms", "10000", "--seconds", "90",
        ], output: "driver.out")
        guard let summary = bed.finalSummary("driver.out", timeout: 100) else {
            return XCTFail("the driver never finished: \(bed.helperOutput("driver.out").suffix(2000))")
        }
        let elapsed = Date().timeIntervalSince(start)
        let dropped = (0..<3).map { bed.droppedPackets(at: $0) }.reduce(0, +)
        let during = (0..<3).map { bed.resources($0) }
        // Let the last events and broadcasts arrive before counting.
        _ = waitUntil(10) {
            let audit = LoadAudit(members: Dictionary(uniqueKeysWithValues: members.map { ($0, bed.helperOutput($0)) }), publisher: "d")
            return audit.events.values.allSatisfy { $0.received >= Self.events }
                && audit.broadcasts.values.allSatisfy { $0.received >= Self.broadcasts }
        }
        for relay in 0..<3 { bed.heal(relay) }
        let audit = LoadAudit(members: Dictionary(uniqueKeysWithValues: members.map { ($0, bed.helperOutput($0)) }), publisher: "d")

        XCTAssertGreaterThan(dropped, 0, "the loss rules dropped nothing")
        XCTAssertEqual(count(summary, "requestsSent"), Self.requests)
        XCTAssertEqual(count(summary, "requestsAnswered"), Self.requests, "failures: \(failures(summary, "requestFailures"))")
        XCTAssertEqual(count(summary, "wrongReplies"), 0)
        XCTAssertEqual(audit.requestsHandled, Self.requests, "each request reaches exactly one member once")
        XCTAssertEqual(audit.requestsHandledTwice, 0)
        XCTAssertEqual(count(summary, "eventsPublished"), Self.events, "\(failures(summary, "publishFailures"))")
        XCTAssertEqual(count(summary, "broadcastsSent"), Self.broadcasts, "\(failures(summary, "broadcastFailures"))")
        for member in members {
            let events = audit.events[member] ?? .init(), broadcasts = audit.broadcasts[member] ?? .init()
            XCTAssertEqual(events, LoadAudit.Stream(received: Self.events, highest: Self.events - 1), "events at \(member)")
            XCTAssertEqual(broadcasts, LoadAudit.Stream(received: Self.broadcasts, highest: Self.broadcasts - 1), "broadcasts at \(member)")
        }
        XCTAssertEqual(count(summary, "tunnelsCompleted"), Self.tunnels, "\(failures(summary, "tunnelFailures"))")
        XCTAssertEqual(count(summary, "tunnelBytesEchoed"), Self.tunnels * Self.tunnelBytes)
        XCTAssertEqual(count(summary, "tunnelMismatches"), 0)
        let deaths = (0..<3).map { observer in nodes.values.reduce(0) { $0 + bed.loggedChanges(to: "dead", of: $1, by: observer) } }
            .reduce(0, +)
        print("fault-bed 5 % loss at each relay (\(dropped) packets dropped) for \(String(format: "%.1f", elapsed)) s: "
              + "requests \(count(summary, "requestsAnswered"))/\(Self.requests) answered (p50 \(summary["latencyP50Ms"] ?? 0) ms, "
              + "p99 \(summary["latencyP99Ms"] ?? 0) ms), handled \(audit.requestsHandled) times; events "
              + members.map { "\(audit.events[$0]?.received ?? 0)" }.joined(separator: "/") + " of \(Self.events) per subscriber; "
              + "broadcasts " + members.map { "\(audit.broadcasts[$0]?.received ?? 0)" }.joined(separator: "/")
              + " of \(Self.broadcasts) per member; tunnel bytes \(count(summary, "tunnelBytesEchoed")) of "
              + "\(Self.tunnels * Self.tunnelBytes) echoed exactly; false deaths \(deaths); during: "
              + during.enumerated().map { "relay \($0.offset) \($0.element)" }.joined(separator: "; "))
    }
}
