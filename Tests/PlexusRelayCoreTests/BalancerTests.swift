import PlexusMembership
import PlexusPeerWire
@testable import PlexusRelayCore
import XCTest

final class BalancerTests: XCTestCase {
    /// This relay is node 1 in zone "z1".
    private func balancer(seed: UInt64 = 42) -> Balancer<SeededGenerator> {
        Balancer(localNode: node(1), localZone: "z1", generator: SeededGenerator(seed: seed))
    }

    func testTable() {
        struct Case {
            var name: String
            var candidates: [BalancerCandidate]
            var expected: BalancerChoice?
        }
        let cases: [Case] = [
            Case(name: "no candidates", candidates: [], expected: nil),
            Case(name: "local member wins over idle remote ones",
                 candidates: [candidate(2), candidate(3, zone: "z2"), candidate(1, inflight: 5)],
                 expected: BalancerChoice(node: node(1), tier: .sameRelay, allSaturated: false)),
            Case(name: "same zone before other zones",
                 candidates: [candidate(3, zone: "z2"), candidate(2, inflight: 9)],
                 expected: BalancerChoice(node: node(2), tier: .sameZone, allSaturated: false)),
            Case(name: "saturated local overflows to same zone",
                 candidates: [candidate(1, inflight: 10), candidate(2, inflight: 3), candidate(3, zone: "z2")],
                 expected: BalancerChoice(node: node(2), tier: .sameZone, allSaturated: false)),
            Case(name: "saturated zone overflows to elsewhere",
                 candidates: [candidate(2, inflight: 10), candidate(4, inflight: 12), candidate(3, zone: "z2", inflight: 9)],
                 expected: BalancerChoice(node: node(3), tier: .elsewhere, allSaturated: false)),
            Case(name: "zero capacity is saturated",
                 candidates: [candidate(1, capacity: 0), candidate(3, zone: "z2", capacity: 1)],
                 expected: BalancerChoice(node: node(3), tier: .elsewhere, allSaturated: false)),
            Case(name: "only the unsaturated member of a tier is used",
                 candidates: [candidate(2, inflight: 10), candidate(4, inflight: 9)],
                 expected: BalancerChoice(node: node(4), tier: .sameZone, allSaturated: false)),
            Case(name: "all saturated: least loaded overall",
                 candidates: [candidate(1, capacity: 2, inflight: 4), candidate(2, capacity: 10, inflight: 15),
                              candidate(3, zone: "z2", capacity: 4, inflight: 5)],
                 expected: BalancerChoice(node: node(3), tier: .elsewhere, allSaturated: true)),
            Case(name: "all saturated tie: better tier wins",
                 candidates: [candidate(3, zone: "z2", capacity: 2, inflight: 4), candidate(2, capacity: 1, inflight: 2)],
                 expected: BalancerChoice(node: node(2), tier: .sameZone, allSaturated: true)),
            Case(name: "all saturated tie in one tier: lower node id wins",
                 candidates: [candidate(5, capacity: 1, inflight: 1), candidate(4, capacity: 2, inflight: 2)],
                 expected: BalancerChoice(node: node(4), tier: .sameZone, allSaturated: true)),
            Case(name: "all zero capacity: fewest in flight",
                 candidates: [candidate(4, capacity: 0, inflight: 3), candidate(5, capacity: 0, inflight: 1)],
                 expected: BalancerChoice(node: node(5), tier: .sameZone, allSaturated: true)),
        ]
        for test in cases {
            var subject = balancer()
            XCTAssertEqual(subject.choose(among: test.candidates), test.expected, test.name)
        }
    }

    func testTwoChoicesPreferTheLessLoadedByRatio() {
        // Two candidates: power of two choices always compares both, so the ratio decides.
        for seed: UInt64 in 0..<50 {
            var subject = balancer(seed: seed)
            let choice = subject.choose(among: [candidate(2, capacity: 100, inflight: 30),
                                                candidate(4, capacity: 10, inflight: 2)])
            XCTAssertEqual(choice?.node, node(4), "2/10 < 30/100")
        }
    }

    func testSameSeedSameDecisions() {
        let candidates = (2...9).map { candidate(UInt64($0), capacity: 100) }
        var first = balancer(seed: 7), second = balancer(seed: 7)
        for _ in 0..<100 {
            XCTAssertEqual(first.choose(among: candidates), second.choose(among: candidates))
        }
    }

    func testDirectoryServersSkipExcludedRelays() {
        let record = { (number: UInt64, zone: Name) in
            DirectoryRecord(node: node(number), version: 1, addresses: [], zone: zone,
                            clusters: [ClusterCapacity(cluster: "svc", capacity: 8)])
        }
        let snapshot = DirectorySnapshot(records: [node(1): record(1, "z1"), node(2): record(2, "z1"),
                                                   node(3): record(3, "z2")])
        var subject = balancer()
        let servers = snapshot.relays(servingCluster: "svc")
        XCTAssertEqual(subject.choose(among: servers, inflight: { _ in 0 })?.node, node(1))
        XCTAssertEqual(subject.choose(among: servers, excluding: [node(1)], inflight: { _ in 0 })?.node, node(2))
        XCTAssertEqual(subject.choose(among: servers, excluding: [node(1), node(2)], inflight: { _ in 0 })?.node, node(3))
        XCTAssertNil(subject.choose(among: servers, excluding: [node(1), node(2), node(3)], inflight: { _ in 0 }))
    }

    /// 1,000 requests over relay B and relay C (same tier) split within 40–60 %, both when
    /// requests complete at once (equal load: the random draw decides) and when they stay in
    /// flight (the load comparison decides).
    func testSplitBetweenTwoRelaysOfOneTier() {
        for requestsStayInFlight in [false, true] { for seed: UInt64 in 0..<20 {
            var subject = balancer(seed: seed)
            var inflight: [NodeID: Int] = [:]
            var chosen: [NodeID: Int] = [:]
            for _ in 0..<1_000 {
                let choice = subject.choose(among: [
                    BalancerCandidate(node: node(2), zone: "z2", capacity: 10_000, inflight: inflight[node(2), default: 0]),
                    BalancerCandidate(node: node(3), zone: "z2", capacity: 10_000, inflight: inflight[node(3), default: 0]),
                ])!
                chosen[choice.node, default: 0] += 1
                if requestsStayInFlight { inflight[choice.node, default: 0] += 1 }
            }
            let share = Double(chosen[node(2), default: 0]) / 1_000
            XCTAssertGreaterThanOrEqual(share, 0.4, "requestsStayInFlight=\(requestsStayInFlight) seed=\(seed)")
            XCTAssertLessThanOrEqual(share, 0.6, "requestsStayInFlight=\(requestsStayInFlight) seed=\(seed)")
        } }
    }
}
