import PlexusMembership

/// What one experiment measured.
public struct ExperimentReport: Sendable {
    public var memberCount: Int
    public var lossRate: Double
    public var measuredDuration: Milliseconds
    /// Per kill: time from the kill until every surviving member saw the victim dead (nil: some never did).
    public var deathEverywhere: [Milliseconds?]
    /// Per kill: time until the first member saw the victim dead.
    public var deathFirstSeen: [Milliseconds?]
    /// Per directory change: time until every other running member held the new version (nil: not all did).
    public var directoryEverywhere: [Milliseconds?]
    /// Member-level views in which a running member was marked dead.
    public var falseDeathViews: Int
    /// Distinct running members that some member marked dead.
    public var falselyDeclaredMembers: Int
    /// Member-level views in which a running member was marked suspect.
    public var falseSuspicionViews: Int
    public var datagramBytes: Int
    public var streamBytes: Int
    public var datagrams: Int
    public var oversizedDatagrams: Int
    /// Members that were running during the measurement window (for per-member rates).
    public var runningMembers: Int

    public var datagramBytesPerMemberSecond: Double {
        Double(datagramBytes) / Double(max(runningMembers, 1)) / (Double(measuredDuration) / 1_000)
    }
    public var streamBytesPerMemberSecond: Double {
        Double(streamBytes) / Double(max(runningMembers, 1)) / (Double(measuredDuration) / 1_000)
    }
    public var falseDeathViewsPerMemberHour: Double {
        Double(falseDeathViews) / Double(max(runningMembers, 1)) / (Double(measuredDuration) / 3_600_000)
    }
}

/// Nearest-rank percentile of `values` (nil if empty).
public func percentile(_ values: [Milliseconds], _ fraction: Double) -> Milliseconds? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

/// Runs the standard overlay experiment: start every member, wait for convergence, then for
/// `duration` kill one random member every `killEvery` and change one random member's directory
/// record every `changeEvery`, measuring detection, dissemination, false positives and bytes.
///
/// Guarantees: deterministic for a given configuration; bounded (runs exactly
/// `warmUp + duration + drain` of virtual time).
public struct OverlayExperiment {
    public var configuration: SimulationConfiguration
    public var warmUp: Milliseconds
    public var duration: Milliseconds
    public var killEvery: Milliseconds?
    public var changeEvery: Milliseconds?
    /// Extra time after the last event for outcomes to settle.
    public var drain: Milliseconds
    /// Optional hook that sees every simulation event (debugging).
    public var trace: ((Simulator, SimulationEvent) -> Void)?

    public init(configuration: SimulationConfiguration, warmUp: Milliseconds, duration: Milliseconds,
                killEvery: Milliseconds?, changeEvery: Milliseconds?, drain: Milliseconds = 30_000) {
        self.configuration = configuration
        self.warmUp = warmUp
        self.duration = duration
        self.killEvery = killEvery
        self.changeEvery = changeEvery
        self.drain = drain
    }

    public func run() -> ExperimentReport {
        let simulator = Simulator(configuration)
        let tracker = Tracker(memberCount: configuration.memberCount)
        let trace = self.trace
        simulator.observer = { simulator, event in
            tracker.observe(event, simulator: simulator)
            trace?(simulator, event)
        }
        simulator.run(until: warmUp)
        tracker.measuring = true
        let startBytes = (simulator.datagramBytes, simulator.streamBytes, simulator.datagramsSent, simulator.oversizedDatagrams)
        var random = SeededGenerator(seed: configuration.seed ^ 0xE4E4)
        let end = warmUp + duration
        var nextKill = killEvery.map { warmUp + $0 / 2 } ?? .max
        var nextChange = changeEvery.map { warmUp + $0 / 3 } ?? .max
        var topicCounter = 0
        while true {
            let next = min(nextKill, nextChange)
            guard next < end else { break }
            simulator.run(until: next)
            if next == nextKill {
                let running = (0..<configuration.memberCount).filter { simulator.isRunning($0) }
                if running.count > 3 {
                    // Never kill the seeds, so later experiments can still join.
                    let candidates = running.filter { $0 >= 3 }
                    let victim = candidates[Int(random.next() % UInt64(candidates.count))]
                    simulator.kill(victim)
                    tracker.killed(victim, at: simulator.now, running: running.filter { $0 != victim })
                }
                nextKill += killEvery!
            } else {
                let running = (0..<configuration.memberCount).filter { simulator.isRunning($0) }
                let owner = running[Int(random.next() % UInt64(running.count))]
                topicCounter += 1
                let version = simulator.updateRecord(owner, [.subscribeTopic(Name("topic-\(topicCounter)"))])
                tracker.changed(owner, version: version, at: simulator.now, running: running.filter { $0 != owner })
                nextChange += changeEvery!
            }
        }
        simulator.run(until: end)
        let measured = (simulator.datagramBytes - startBytes.0, simulator.streamBytes - startBytes.1,
                        simulator.datagramsSent - startBytes.2, simulator.oversizedDatagrams - startBytes.3)
        tracker.measuring = false
        simulator.run(until: end + drain)
        let runningAtEnd = Set((0..<configuration.memberCount).filter { simulator.isRunning($0) })
        return ExperimentReport(
            memberCount: configuration.memberCount, lossRate: configuration.lossRate, measuredDuration: duration,
            deathEverywhere: tracker.deaths.map { $0.everywhere(among: runningAtEnd) },
            deathFirstSeen: tracker.deaths.map { $0.firstSeen },
            directoryEverywhere: tracker.changes.map { $0.everywhere(among: runningAtEnd) },
            falseDeathViews: tracker.falseDeathViews, falselyDeclaredMembers: tracker.falselyDeclared.count,
            falseSuspicionViews: tracker.falseSuspicionViews,
            datagramBytes: measured.0, streamBytes: measured.1, datagrams: measured.2, oversizedDatagrams: measured.3,
            runningMembers: runningAtEnd.count)
    }
}

/// Collects observations during an experiment.
final class Tracker {
    struct Outcome {
        let subject: Int
        let startedAt: Milliseconds
        let expected: Set<Int>
        var seenAt: [Int: Milliseconds] = [:]

        var firstSeen: Milliseconds? { seenAt.values.min().map { $0 - startedAt } }

        func everywhere(among running: Set<Int>) -> Milliseconds? {
            var latest = startedAt
            for observer in expected where running.contains(observer) {
                guard let time = seenAt[observer] else { return nil }
                latest = max(latest, time)
            }
            return latest - startedAt
        }
    }

    var measuring = false
    var deaths: [Outcome] = []
    var deathIndex: [Int: Int] = [:]
    var changes: [Outcome] = []
    var pendingChanges: [(index: Int, version: UInt64)] = []
    var falseDeathViews = 0
    var falseSuspicionViews = 0
    var falselyDeclared = Set<Int>()

    init(memberCount: Int) {}

    func killed(_ victim: Int, at time: Milliseconds, running: [Int]) {
        deathIndex[victim] = deaths.count
        deaths.append(Outcome(subject: victim, startedAt: time, expected: Set(running)))
    }

    func changed(_ owner: Int, version: UInt64, at time: Milliseconds, running: [Int]) {
        pendingChanges.append((changes.count, version))
        changes.append(Outcome(subject: owner, startedAt: time, expected: Set(running)))
    }

    func observe(_ event: SimulationEvent, simulator: Simulator) {
        switch event {
        case .memberChanged(let observer, let change):
            guard let subject = simulator.index(of: change.member.id) else { return }
            if change.member.status == .dead || change.member.status == .left {
                if let index = deathIndex[subject], deaths[index].seenAt[observer] == nil {
                    deaths[index].seenAt[observer] = simulator.now
                }
                if measuring && simulator.isRunning(subject) && change.member.status == .dead {
                    falseDeathViews += 1
                    falselyDeclared.insert(subject)
                }
            } else if change.member.status == .suspect && measuring && simulator.isRunning(subject) {
                falseSuspicionViews += 1
            }
        case .directoryChanged(let observer):
            guard !pendingChanges.isEmpty, simulator.isRunning(observer) else { return }
            var settled = false
            for (index, version) in pendingChanges
            where changes[index].seenAt[observer] == nil && changes[index].expected.contains(observer) {
                let owner = simulator.ids[changes[index].subject]
                if let held = simulator.recordVersion(at: observer, of: owner), held >= version {
                    changes[index].seenAt[observer] = simulator.now
                    settled = settled || changes[index].seenAt.count >= changes[index].expected.count
                }
            }
            // A change seen by every member it expects needs no more checks (the list stays short).
            if settled {
                pendingChanges.removeAll { changes[$0.index].seenAt.count >= changes[$0.index].expected.count }
            }
        }
    }
}
