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
            guard let value = arguments.next() else { fatalError("missing value for \(argument)") }
            return value
        }
        switch argument {
        case "--members": options.members = value().split(separator: ",").map { Int($0)! }
        case "--seconds": options.seconds = Int64(value())!
        case "--warm-up": options.warmUp = Int64(value())!
        case "--loss": options.loss = Double(value())!
        case "--seed": options.seed = UInt64(value())!
        case "--kill-every": options.killEvery = Int64(value())!
        case "--change-every": options.changeEvery = Int64(value())!
        case "--preset": options.preset = value()
        case "--probe-interval": options.probeInterval = Int64(value())!
        case "--probe-timeout": options.probeTimeout = Int64(value())!
        case "--converged": options.converged = true
        case "--indirect-checks": options.indirectChecks = Int(value())!
        case "--gossip-interval": options.gossipInterval = Int64(value())!
        case "--suspicion-mult": options.suspicionMultiplier = Double(value())!
        case "--suspicion-unit": options.suspicionUnit = Int64(value())!
        case "--suspicion-max-mult": options.suspicionMaxTimeoutMultiplier = Double(value())!
        default:
            print("usage: plexus-sim [--members 100,1000] [--seconds 300] [--warm-up 60] [--loss 0.05] [--seed 1] [--kill-every 20] [--change-every 3] [--preset lan|wan] [--probe-interval ms] [--probe-timeout ms] [--indirect-checks k] [--gossip-interval ms] [--suspicion-mult x] [--suspicion-unit ms] [--suspicion-max-mult x] [--converged]")
            exit(2)
        }
    }
    return options
}

func exit(_ code: Int32) -> Never { fatalError("exit \(code)") }

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
