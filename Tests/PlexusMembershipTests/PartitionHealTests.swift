import XCTest
@testable import PlexusMembership
import PlexusSimulator

/// Issue 10, defect 4, in the simulator: one relay of three is cut off long enough to be declared
/// dead (and to declare the others dead), then the partition heals. What the cut-off relay says
/// about relays that were never cut off is stale and must not make them suspect each other into
/// a death.
final class PartitionHealTests: XCTestCase {
    /// Partition/heal cycles per seed (the issue asks for 10).
    static let cycles = 10
    /// Seeds per configuration: the defect showed up in about half of the runs.
    static let seeds: [UInt64] = [1, 2, 3, 4]

    func testHealingAPartitionNeverKillsRelaysThatWereNotCutOff() {
        for seed in Self.seeds {
            let report = runPartitionCycles(memberCount: 3, cutOff: [2], seed: seed)
            XCTAssertEqual(report.falseDeaths, [], "seed \(seed): deaths among relays never cut off")
            XCTAssertTrue(report.healedEveryTime, "seed \(seed): the overlay did not become whole after a heal")
        }
    }

    func testHealingAPartitionOfFiveNeverKillsTheMajority() {
        for seed in Self.seeds.prefix(2) {
            let report = runPartitionCycles(memberCount: 5, cutOff: [3, 4], seed: seed)
            XCTAssertEqual(report.falseDeaths, [], "seed \(seed): deaths among relays never cut off")
            XCTAssertTrue(report.healedEveryTime, "seed \(seed)")
        }
    }

    struct Report {
        /// "observer→subject at time" for every death of a never-cut-off member seen by another.
        var falseDeaths: [String] = []
        var healedEveryTime = true
    }

    private func runPartitionCycles(memberCount: Int, cutOff: Set<Int>, seed: UInt64) -> Report {
        let simulator = Simulator(SimulationConfiguration(memberCount: memberCount, seed: seed, lossRate: 0.01,
                                                          joinSpacing: 50, roundTripThroughCodec: true))
        var report = Report()
        simulator.observer = { simulator, event in
            guard case .memberChanged(let observer, let change) = event, change.member.status == .dead,
                  let subject = simulator.index(of: change.member.id),
                  !cutOff.contains(observer), !cutOff.contains(subject) else { return }
            report.falseDeaths.append("\(observer)→\(subject) at \(simulator.now)")
        }
        simulator.run(until: 10_000)
        let groups = (0..<memberCount).map { cutOff.contains($0) ? 1 : 0 }
        for _ in 0..<Self.cycles {
            simulator.partition(groups)
            // Long enough for both sides to declare the other dead (suspicion maximum 4.5 s).
            simulator.run(for: 12_000)
            simulator.heal()
            var healed = false
            for _ in 0..<30 where !healed {
                simulator.run(for: 1_000)
                healed = allAlive(simulator, count: memberCount)
            }
            report.healedEveryTime = report.healedEveryTime && healed
            simulator.run(for: 5_000)
        }
        return report
    }

    private func allAlive(_ simulator: Simulator, count: Int) -> Bool {
        for observer in 0..<count {
            for subject in 0..<count where subject != observer {
                guard simulator.membership(observer)?.member(simulator.ids[subject])?.status == .alive else { return false }
            }
        }
        return true
    }
}
