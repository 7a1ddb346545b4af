import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import Plexus
import PlexusProcesses
import PlexusRelay

/// `plexus-bench`: request/reply, pub/sub, broadcast and tunnel figures through one relay on
/// loopback, with the Swift binding as the client.
///
/// By default the relay runs in this process (on its own event loop thread); `--port` points the
/// benchmark at an already running relay instead. `--relays 2` starts two `plexus relay`
/// processes (the `plexus` binary next to this one; shared key, B joins A) and measures across
/// them: services and subscribers on relay B, requesters, publishers and tunnel initiators on
/// relay A. Pin the whole run with `taskset`, e.g. `taskset -c 0 plexus-bench` puts client,
/// service and relay on one core; the relay processes inherit the affinity.
@main
struct PlexusBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plexus-bench",
        abstract: "Measure Plexus through one relay on loopback."
    )

    @Option(help: "Use the relay already listening on this port instead of starting one in-process.")
    var port: Int?

    @Option(help: "1: one relay (in-process, or --port). 2: two `plexus relay` processes joined into one overlay; clients on A, services/subscribers on B.")
    var relays: Int = 1

    @Option(help: "Benchmarks to run, comma-separated: latency, throughput, pubsub, broadcast, tunnel.")
    var only: String = "latency,throughput,pubsub,broadcast,tunnel"

    @Option(help: "Sequential requests measured for latency.")
    var latencyRequests: Int = 20_000

    @Option(help: "Seconds each throughput measurement runs.")
    var seconds: Double = 3

    @Option(help: "Events published per pub/sub and broadcast measurement.")
    var events: Int = 300_000

    @Option(help: "Megabytes sent through the tunnel.")
    var tunnelMegabytes: Int = 1024

    @Option(help: "Run each selected measurement this many times (one line per run).")
    var `repeat`: Int = 1

    @Flag(help: "With --relays 2: both relays hold a cluster (topic) key for every name the run uses, so requests, events, broadcasts and tunnel data cross sealed (Docs/cluster-keys.md).")
    var protected = false

    @Flag(help: """
        Run Swift concurrency's global executor on NIO's singleton event loops (NIOSingletons \
        takeover), so the bench's tasks and the service handlers run on the binding's loop threads.
        """)
    var nioExecutor = false

    func run() async throws {
        var logger = Logger(label: "plexus.bench")
        logger.logLevel = .warning
        let selected = Set(only.split(separator: ",").map(String.init))
        let executor = nioExecutor && NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

        var relay: RelayServer?
        var overlay: TwoRelays?
        let bench: Benchmarks
        let setup: String
        switch (relays, port) {
        case (2, nil):
            let names = protected ? ProtectedBenchNames(repeats: self.repeat) : nil
            let started = try TwoRelays(protectedNames: names)
            overlay = started
            var twoRelays = Benchmarks(clientPort: started.a.clientPort, servicePort: started.b.clientPort, logger: logger,
                                       waitUntilRoutable: started.waitUntilRoutable)
            twoRelays.protectedNames = names
            bench = twoRelays
            setup = "two relay processes (\(started.processes.binary)): A on 127.0.0.1:\(started.a.clientPort) (requesters, publishers), "
                + "B on 127.0.0.1:\(started.b.clientPort) (services, subscribers)"
                + (protected ? ", every name protected by a cluster key (sealed between the relays)" : "")
        case (1, let port?):
            bench = Benchmarks(clientPort: port, servicePort: port, logger: logger, waitUntilRoutable: { _, _ in })
            setup = "relay on 127.0.0.1:\(port) (external)"
        case (1, nil):
            var configuration = RelayConfiguration()
            configuration.port = 0
            configuration.hosts = ["127.0.0.1"]
            let started = try await RelayServer.start(configuration: configuration, logger: logger)
            relay = started
            bench = Benchmarks(clientPort: started.port, servicePort: started.port, logger: logger, waitUntilRoutable: { _, _ in })
            setup = "relay on 127.0.0.1:\(started.port) (in-process)"
        default:
            throw ValidationError("--relays must be 1 or 2, and --port only goes with --relays 1")
        }
        defer { overlay?.processes.cleanUp() }
        print("plexus-bench: \(setup), CPUs allowed: \(CPUAffinity.describe())\(overlay == nil ? "" : " (inherited by the relays)"), "
              + "tasks on \(executor ? "NIO event loops" : "the Swift global executor")")

        // Each measurement, `repeat` times; one that fails is reported and the others still run.
        var measurements: [(family: String, label: String, run: () async throws -> Void)] = [
            ("latency", "request latency", { try await bench.requestLatency(count: latencyRequests) }),
        ]
        for requesters in [1, 8, 32] {
            measurements.append(("throughput", "request throughput, \(requesters) requesters",
                                 { try await bench.requestThroughput(requesters: requesters, seconds: seconds) }))
        }
        for subscribers in [1, 4] {
            for size in [64, 1024] {
                measurements.append(("pubsub", "publish → subscribe, \(size) B, 1:\(subscribers)",
                                     { try await bench.publishThroughput(eventSize: size, count: events, subscribers: subscribers) }))
            }
        }
        measurements.append(("broadcast", "broadcast", { try await bench.broadcastThroughput(messageSize: 1024, count: events) }))
        measurements.append(("tunnel", "tunnel", { try await bench.tunnelThroughput(megabytes: tunnelMegabytes) }))
        var failed = 0
        for measurement in measurements where selected.contains(measurement.family) {
            for _ in 0..<max(1, self.repeat) {
                do {
                    let before = overlay?.relayCPUSeconds()
                    try await measurement.run()
                    if let before, let after = overlay?.relayCPUSeconds() {
                        // CPU per fixed work: steadier than rates on a shared machine.
                        print(String(format: "  relay CPU in this measurement: A %.3f s, B %.3f s", after.a - before.a, after.b - before.b))
                    }
                } catch {
                    failed += 1
                    print("\(measurement.label): FAILED: \(error)")
                }
            }
        }
        if let overlay { print(overlay.memoryReport()) }
        await relay?.shutdown()
        if failed > 0 { throw ExitCode.failure }
    }
}

/// Relays A and B as `plexus relay` processes on loopback, one overlay.
struct TwoRelays {
    let processes: RelayProcesses
    let a = RelaySpec(name: "A"), b = RelaySpec(name: "B")

    /// CPU seconds each relay process has used so far (`/proc/PID/stat`).
    func relayCPUSeconds() -> (a: Double, b: Double) {
        (processes.cpuSeconds(a.name) ?? 0, processes.cpuSeconds(b.name) ?? 0)
    }
    let nodeB: String

    init(protectedNames: ProtectedBenchNames? = nil) throws {
        processes = try RelayProcesses(prefix: "plexus-bench")
        let key = processes.path("network.key")
        guard try processes.run(["keygen", "--out", key]).status == 0 else { throw BenchError("plexus keygen failed") }
        var keyOptions: [String] = []
        if let protectedNames {
            let clusterKey = processes.path("cluster.key")
            guard try processes.run(["keygen", "--out", clusterKey]).status == 0 else { throw BenchError("plexus keygen failed") }
            keyOptions = protectedNames.keyOptions(keyFile: clusterKey)
        }
        for (relay, join) in [(a, [RelaySpec]()), (b, [a])] {
            let dataDirectory = processes.path("data-\(relay.name)")
            // Status is read through the relay's HTTP endpoint, which needs its token.
            processes.setTokenFile(RelaySpec.tokenFile(dataDirectory: dataDirectory), adminPort: relay.adminPort)
            try processes.start(relay.name, relay.arguments(key: key, dataDirectory: dataDirectory, join: join) + keyOptions)
        }
        guard let nodes = processes.waitForOverlay([a, b], timeout: 20), let nodeB = nodes["B"] else {
            processes.cleanUp()
            throw BenchError("the two relays did not see each other within 20 s")
        }
        self.nodeB = nodeB
    }

    /// Waits (bounded, polling A's status off the concurrency pool) until A lists `cluster` /
    /// `topic` on B.
    var waitUntilRoutable: @Sendable (String?, String?) async throws -> Void {
        { [processes, a, nodeB] cluster, topic in
            let deadline = ContinuousClock.now + .seconds(15)
            while !processes.isVisible(cluster: cluster, topic: topic, on: [nodeB], at: a) {
                guard ContinuousClock.now < deadline else { throw BenchError("\(cluster ?? topic ?? "") not visible on A within 15 s") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    func memoryReport() -> String {
        [a, b].map { relay in
            guard let memory = processes.memory(relay.name) else { return "relay \(relay.name): not running" }
            return String(format: "relay %@: VmHWM %.1f MiB, VmRSS %.1f MiB, CPU %.1f s", relay.name,
                          Double(memory.peak) / 1_048_576, Double(memory.rss) / 1_048_576, processes.cpuSeconds(relay.name) ?? -1)
        }.joined(separator: "; ") + String(format: "; bench process CPU %.1f s", processCPUSeconds(pid: getpid()) ?? -1)
    }
}

/// Reads the process's CPU affinity so every report says how it was pinned.
enum CPUAffinity {
    static func describe() -> String {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
        else { return "unknown" }
        return line.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
    }
}
