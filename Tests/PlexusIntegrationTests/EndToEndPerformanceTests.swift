import Logging
import NIOCore
import Plexus
import PlexusRelay
import XCTest

/// Performance smoke tests through the real relay (debug builds are far slower; real figures
/// come from `swift test -c release -Xswiftc -enable-testing` or the benchmark tool).
final class EndToEndPerformanceTests: XCTestCase {
    func testRequestRoundTripLatencyThroughTheRelay() async throws {
        var configuration = RelayConfiguration()
        configuration.port = 0
        let relay = try await RelayServer.start(configuration: configuration, logger: Logger(label: "relay"))
        let service = try await Connection.register(cluster: "perf", handler: Recorder(), port: relay.port)
        let client = try await Connection.connect(port: relay.port)
        let payload = ByteBuffer(bytes: [1])
        var samples: [Duration] = []
        let clock = ContinuousClock()
        for _ in 0..<iterations(release: 20_000, debug: 1000) {
            let start = clock.now
            _ = try await client.request(payload, to: "perf", timeout: .seconds(5))
            samples.append(clock.now - start)
        }
        samples.sort()
        print("request round trip through the relay: p50 \(samples[samples.count / 2]), p99 \(samples[samples.count * 99 / 100])")
        XCTAssertLessThan(samples[samples.count / 2], .milliseconds(10))
        try await client.close()
        try await service.close()
        await relay.shutdown()
    }

    func testEventThroughputThroughTheRelay() async throws {
        var configuration = RelayConfiguration()
        configuration.port = 0
        let relay = try await RelayServer.start(configuration: configuration, logger: Logger(label: "relay"))
        let publisher = try await Connection.connect(port: relay.port)
        let subscriber = try await Connection.connect(port: relay.port)
        let subscription = try await subscriber.subscribe(to: "perf")
        try await subscriber.publish("probe", to: "perf")
        var iterator = subscription.makeAsyncIterator()
        _ = try await iterator.next()
        let count = iterations(release: 300_000, debug: 10_000)
        let event = ByteBuffer(repeating: 0x61, count: 1024)
        let clock = ContinuousClock()
        let start = clock.now
        let producer = Task { for _ in 0..<count { try await publisher.publish(event, to: "perf") } }
        var received = 0
        // Drops are allowed (memory limit); stop at the count or 20 s after the last publish.
        let stop = Task { try await producer.value; try await Task.sleep(for: .seconds(20)); try await subscriber.unsubscribe(from: "perf") }
        while received < count, try await iterator.next() != nil { received += 1 }
        let elapsed = clock.now - start
        stop.cancel()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("events through the relay: \(received) of \(count) in \(elapsed): \(Int(Double(received) / seconds)) events/s (1 KiB)")
        XCTAssertGreaterThan(received, 0)
        try await publisher.close()
        try await subscriber.close()
        await relay.shutdown()
    }
}

/// Loop counts for performance smoke tests: small in debug builds, which are 10-50× slower.
func iterations(release: Int, debug: Int) -> Int {
    #if DEBUG
    return debug
    #else
    return release
    #endif
}
