import Foundation
// plexus-sim: runs the membership simulator and prints the figures of Docs/membership.md.
//
//   swift build -c release --product plexus-sim
//   taskset -c 1 .build/release/plexus-sim --members 100,1000 --seconds 300 --loss 0.05
import PlexusMembership
import PlexusSimulator

struct Options {
    var members = [100, 1_000]
    var seconds: Int64 = 300
    var warmUp: Int64 = 60
    var loss = 0.05
    var seed: UInt64 = 1
    var killEvery: Int64 = 20
    var changeEvery: Int64 = 3
    var preset = "lan"
    var probeInterval: Int64?
    var probeTimeout: Int64?
    var indirectChecks: Int?
    var gossipInterval: Int64?
    var suspicionMultiplier: Double?
    var suspicionUnit: Int64?
    var suspicionMaxTimeoutMultiplier: Double?
    var converged = false
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst().makeIterator()
    while let argument = arguments.next() {
        func value() -> String {
            guard let value = arguments.next() else { fail("missing value for \(argument)") }
            return value
        }
        func number<T: LosslessStringConvertible>(_ type: T.Type = T.self) -> T {
            let text = value()
            guard let number = T(text) else { fail("\(argument) needs a number, got '\(text)'") }
            return number
        }
        switch argument {
        case "--members": options.members = value().split(separator: ",").map { part in
            guard let count = Int(part), count > 0 else { fail("--members needs positive counts, got '\(part)'") }
            return count
        }
        case "--seconds": options.seconds = number(Int64.self)
        case "--warm-up": options.warmUp = number(Int64.self)
        case "--loss": options.loss = number(Double.self)
        case "--seed": options.seed = number(UInt64.self)
        case "--kill-every": options.killEvery = number(Int64.self)
        case "--change-every": options.changeEvery = number(Int64.self)
        case "--preset":
            options.preset = value()
            guard ["lan", "wan"].contains(options.preset) else { fail("--preset is lan or wan, got '\(options.preset)'") }
        case "--probe-interval": options.probeInterval = number(Int64.self)
        case "--probe-timeout": options.probeTimeout = number(Int64.self)
        case "--converged": options.converged = true
        case "--indirect-checks": options.indirectChecks = number(Int.self)
        case "--gossip-interval": options.gossipInterval = number(Int64.self)
        case "--suspicion-mult": options.suspicionMultiplier = number(Double.self)
        case "--suspicion-unit": options.suspicionUnit = number(Int64.self)
        case "--suspicion-max-mult": options.suspicionMaxTimeoutMultiplier = number(Double.self)
        default:
            fail("unknown option \(argument)\nusage: plexus-sim [--members 100,1000] [--seconds 300] [--warm-up 60] [--loss 0.05] [--seed 1] [--kill-every 20] [--change-every 3] [--preset lan|wan] [--probe-interval ms] [--probe-timeout ms] [--indirect-checks k] [--gossip-interval ms] [--suspicion-mult x] [--suspicion-unit ms] [--suspicion-max-mult x] [--converged]")
        }
    }
    return options
}

/// Prints `message` to standard error and exits with status 2 (bad command line).
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("plexus-sim: " + message + "\n").utf8))
    exit(2)
}

func format(_ value: Milliseconds?) -> String {
    guard let value else { return "n/a" }
    let tenths = (value + 50) / 100
    return "\(tenths / 10).\(tenths % 10) s"
}

func summary(_ values: [Milliseconds?]) -> String {
    let complete = values.compactMap { $0 }
    return "p50 \(format(percentile(complete, 0.5)))  p99 \(format(percentile(complete, 0.99)))  max \(format(complete.max()))  (\(complete.count)/\(values.count) complete)"
}

let options = parseOptions()
var settings: MembershipSettings = options.preset == "wan" ? .wan : .lan
if let interval = options.probeInterval { settings.probeInterval = interval }
if let timeout = options.probeTimeout { settings.probeTimeout = timeout }
if let checks = options.indirectChecks { settings.indirectChecks = checks }
if let interval = options.gossipInterval { settings.gossipInterval = interval }
if let multiplier = options.suspicionMultiplier { settings.suspicionMultiplier = multiplier }
if let unit = options.suspicionUnit { settings.suspicionUnit = unit }
if let multiplier = options.suspicionMaxTimeoutMultiplier { settings.suspicionMaxTimeoutMultiplier = multiplier }
print("plexus-sim preset=\(options.preset) probe=\(settings.probeInterval)/\(settings.probeTimeout)ms k=\(settings.indirectChecks) gossip=\(settings.gossipInterval)ms suspicion=\(settings.suspicionMultiplier)x\(settings.suspicionUnit)ms max×\(settings.suspicionMaxTimeoutMultiplier) loss=\(options.loss) seconds=\(options.seconds) warm-up=\(options.warmUp) seed=\(options.seed) kill-every=\(options.killEvery)s change-every=\(options.changeEvery)s start=\(options.converged ? "converged" : "joins")")
for members in options.members {
    let clock = ContinuousClock()
    let started = clock.now
    let configuration = SimulationConfiguration(memberCount: members, settings: settings, seed: options.seed,
                                                lossRate: options.loss,
                                                joinSpacing: max(1, 10_000 / Int64(members)),
                                                startConverged: options.converged)
    let experiment = OverlayExperiment(configuration: configuration, warmUp: options.warmUp * 1_000,
                                       duration: options.seconds * 1_000, killEvery: options.killEvery * 1_000,
                                       changeEvery: options.changeEvery * 1_000)
    let report = experiment.run()
    let elapsed = clock.now - started
    print("== \(members) members ==  (real time \(elapsed))")
    print("  death seen by every survivor: \(summary(report.deathEverywhere))")
    print("  death first seen:             \(summary(report.deathFirstSeen))")
    print("  directory change everywhere:  \(summary(report.directoryEverywhere))")
    print("  false death views: \(report.falseDeathViews) (\(report.falselyDeclaredMembers) members)  = \(report.falseDeathViewsPerMemberHour) per member-hour; false suspicion views: \(report.falseSuspicionViews)")
    print("  bytes/s per member: datagram \(Int(report.datagramBytesPerMemberSecond))  stream \(Int(report.streamBytesPerMemberSecond))  (datagrams \(report.datagrams), over budget \(report.oversizedDatagrams))")
}
