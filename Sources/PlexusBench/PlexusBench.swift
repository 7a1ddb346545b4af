import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import Plexus
import PlexusRelay

/// `plexus-bench`: request/reply, pub/sub, broadcast and tunnel figures through one relay on
/// loopback, with the Swift binding as the client.
///
/// By default the relay runs in this process (on its own event loop thread); `--port` points the
/// benchmark at an already running relay instead. Pin the whole run with `taskset`, e.g.
/// `taskset -c 0 plexus-bench` puts client, service and relay on one core.
@main
struct PlexusBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plexus-bench",
        abstract: "Measure Plexus through one relay on loopback."
    )

    @Option(help: "Use the relay already listening on this port instead of starting one in-process.")
    var port: Int?

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
        let relayPort: Int
        if let port {
            relayPort = port
        } else {
            var configuration = RelayConfiguration()
            configuration.port = 0
            configuration.hosts = ["127.0.0.1"]
            let started = try await RelayServer.start(configuration: configuration, logger: logger)
            relay = started
            relayPort = started.port
        }
        let bench = Benchmarks(port: relayPort, logger: logger)
        print("plexus-bench: relay on 127.0.0.1:\(relayPort) (\(port == nil ? "in-process" : "external")), CPUs allowed: \(CPUAffinity.describe()), "
              + "tasks on \(executor ? "NIO event loops" : "the Swift global executor")")

        for _ in 0..<max(1, self.repeat) {
            if selected.contains("latency") { try await bench.requestLatency(count: latencyRequests) }
        }
        if selected.contains("throughput") {
            for requesters in [1, 8, 32] {
                for _ in 0..<max(1, self.repeat) { try await bench.requestThroughput(requesters: requesters, seconds: seconds) }
            }
        }
        if selected.contains("pubsub") {
            for size in [64, 1024] {
                for _ in 0..<max(1, self.repeat) { try await bench.publishThroughput(eventSize: size, count: events) }
            }
        }
        for _ in 0..<max(1, self.repeat) {
            if selected.contains("broadcast") { try await bench.broadcastThroughput(messageSize: 1024, count: events) }
        }
        for _ in 0..<max(1, self.repeat) {
            if selected.contains("tunnel") { try await bench.tunnelThroughput(megabytes: tunnelMegabytes) }
        }
        await relay?.shutdown()
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
