import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Plexus
import PlexusCrypto
import PlexusFederation
import PlexusGateway
import PlexusNode
import XCTest

/// The federation figures of `Docs/benchmarks.md` ("Federation"). Skipped unless
/// `PLEXUS_FEDERATION_FIGURES=1`; the WAN delay comes from `PlexusDelayProxy` (built by
/// `swift build`; 40 ms each way on loopback between the two gateways).
extension FederationNodeTests {
    func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
    }

    func testFederationFigures() async throws {
        guard ProcessInfo.processInfo.environment["PLEXUS_FEDERATION_FIGURES"] == "1" else {
            throw XCTSkip("set PLEXUS_FEDERATION_FIGURES=1 to measure the federation figures")
        }
        let harness = self
        let bundle = Bundle(for: FederationNodeTests.self).bundleURL
        let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("PlexusDelayProxy").path }
        guard let proxyBinary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("no PlexusDelayProxy in \(candidates): run swift build")
        }

        let federationKey = NetworkKey.generate()
        let a = try await harness.startGateway("a", key: NetworkKey.generate(), federationKey: federationKey)
        // b dials a through the proxy: 40 ms each way.
        let proxyPort = Int.random(in: 30_000...39_999)
        let proxy = Process()
        proxy.executableURL = URL(fileURLWithPath: proxyBinary)
        proxy.arguments = ["127.0.0.1:\(proxyPort)", "127.0.0.1:\(a.endpoint.port)", "40"]
        proxy.standardOutput = FileHandle.nullDevice
        try proxy.run()
        defer { kill(proxy.processIdentifier, SIGKILL); proxy.waitUntilExit() }
        let b = try await harness.startGatewayJoiningPort("b", federationKey: federationKey, port: proxyPort)

        let echo = CountingEcho()
        harness.connections.append(try await Connection.register(cluster: "echo", handler: echo, port: b.node.relay.port))
        let client = try await harness.connect(a.node)
        let reachable = await harness.eventually(15) { (try? await client.request("x", to: "echo", timeout: .seconds(1))) != nil }
        XCTAssertTrue(reachable)

        // 1. Cross-cloud request latency against the link's own round trip.
        var latencies: [Double] = []
        for index in 0..<200 {
            let started = ContinuousClock.now
            _ = try await client.request("\(index)", to: "echo", timeout: .seconds(2))
            let elapsed = ContinuousClock.now - started
            latencies.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
        }
        let rtt = try await a.endpoint.status().links.first?.roundTrip.map { Double($0.nanoseconds) / 1e6 } ?? -1
        print(String(format: "FIGURE cross-cloud request: p50 %.2f ms, p99 %.2f ms; gateway link RTT (PING) %.2f ms; overhead p50 %.2f ms",
                     percentile(latencies, 0.5), percentile(latencies, 0.99), rtt, percentile(latencies, 0.5) - rtt))

        // 2. Events across the link: 1 KiB, counted at the far side.
        let subscriber = try await harness.connect(b.node)
        let events = try await subscriber.subscribe(to: "bulk")
        let wanted = await harness.eventually(10) { harness.routes(.topic, "bulk", seenBy: a.node) == 1 }
        XCTAssertTrue(wanted)
        let count = 20_000 // 20 MiB: back-pressure holds the publisher when the link falls behind
        let payload = ByteBuffer(repeating: 0x61, count: 1024)
        let counter = NIOLockedValueBox(0)
        let consumer = Task {
            for try await _ in events { counter.withLockedValue { $0 += 1 } }
        }
        // Both gateways run on the test group's one thread: its CPU is the gateways' (frames, Noise, sockets).
        let gatewayLoop = group.next()
        let gatewayCPUBefore = try await gatewayLoop.submit { Self.currentThreadCPUSeconds() }.get()
        let cpuBefore = processCPUSeconds()
        let started = ContinuousClock.now
        for _ in 0..<count { try await client.publish(payload, to: "bulk") }
        let all = await harness.eventually(120) { counter.withLockedValue { $0 } >= count }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds)
        let cpu = processCPUSeconds() - cpuBefore
        let gatewayCPU = try await gatewayLoop.submit { Self.currentThreadCPUSeconds() }.get() - gatewayCPUBefore
        consumer.cancel()
        let got = counter.withLockedValue { $0 }
        print(String(format: "FIGURE events across: %d of %d 1 KiB events in %.2f s = %.0f events/s; CPU of the whole test process (client, relay+gateway a, gateway+relay b, subscriber) %.1f µs per event; the two gateways (their thread) %.1f µs per event",
                     got, count, seconds, Double(got) / seconds, cpu / Double(count) * 1e6, gatewayCPU / Double(count) * 1e6))
        XCTAssertTrue(all, "none lost (\(got) of \(count))")

        // 3. Interest convergence: from a service registering in b until a client in a reaches it.
        var convergence: [Double] = []
        for run in 0..<20 {
            let cluster = "svc\(run)"
            let registered = ContinuousClock.now
            harness.connections.append(try await Connection.register(cluster: cluster, handler: CountingEcho(), port: b.node.relay.port))
            let ok = await harness.eventually(10) { (try? await client.request("x", to: cluster, timeout: .milliseconds(500))) != nil }
            XCTAssertTrue(ok)
            let elapsed = ContinuousClock.now - registered
            convergence.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
        }
        print(String(format: "FIGURE interest convergence (register in b → first answered request from a): p50 %.0f ms, p99 %.0f ms",
                     percentile(convergence, 0.5), percentile(convergence, 0.99)))
    }

    /// User + system CPU seconds of the calling thread (`/proc/thread-self/stat`), 0 if unreadable.
    static func currentThreadCPUSeconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/thread-self/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        // After the name: state is field 3, utime 14 and stime 15 (1-based over the whole line).
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}

extension FederationNodeTests {
    /// A one-relay overlay `name` whose gateway dials 127.0.0.1:`port` (e.g. a delay proxy).
    func startGatewayJoiningPort(_ name: String, federationKey: NetworkKey, port: Int) async throws -> GatewayService {
        let identity = StaticIdentity.ephemeral()
        let node = try await startNode(key: NetworkKey.generate(), identity: identity)
        var configuration = GatewayConfiguration(identity: identity, federationKeyring: Keyring(primary: federationKey),
                                                 overlay: OverlayName(name)!, host: "127.0.0.1", port: 0, logger: logger)
        configuration.joins = [("127.0.0.1", port)]
        configuration.redialInterval = .milliseconds(200)
        let gateway = try await GatewayService.start(node: node, configuration: configuration, on: group.next())
        gateways.append(gateway)
        return gateway
    }
}
