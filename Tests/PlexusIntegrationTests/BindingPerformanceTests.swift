import NIOCore
import Plexus
import PlexusWire
import XCTest

/// Rough performance smoke tests of the binding alone, against the fake relay (which forwards a
/// service's self-requests back to it and echoes events). They print figures and assert only
/// loose bounds; real numbers come from the benchmark tool.
final class BindingPerformanceTests: XCTestCase {
    func testSelfRequestRoundTripLatency() async throws {
        let relay = try await FakeRelay { packet, peer in
            switch packet {
            case .request(let id, _, let payload, let ms):
                peer.send(.request(id: id, payload: payload, timeoutMilliseconds: ms))
            case .reply(let id, let outcome):
                switch outcome {
                case .success(let reply): peer.send(.reply(id: id, result: .success(reply)))
                case .fault(let fault): peer.send(.reply(id: id, result: .fault(fault)))
                }
            default: break
            }
        }
        let service = try await Connection.register(cluster: "perf", handler: PerfEcho(), port: relay.port)
        let payload = ByteBuffer(bytes: [1])
        var samples: [Duration] = []
        let clock = ContinuousClock()
        for _ in 0..<iterations(release: 20_000, debug: 1000) {
            let start = clock.now
            _ = try await service.request(payload, to: "perf", timeout: .seconds(5))
            samples.append(clock.now - start)
        }
        samples.sort()
        let p50 = samples[samples.count / 2]
        print("binding self-request round trip via fake relay: p50 \(p50), p99 \(samples[samples.count * 99 / 100])")
        XCTAssertLessThan(p50, .milliseconds(5))
        try await service.close()
        try await relay.shutdown()
    }

    func testEventThroughput() async throws {
        let relay = try await FakeRelay()
        let client = try await Connection.connect(port: relay.port)
        let subscription = try await client.subscribe(to: "perf")
        await relay.waitUntil { $0.contains(.subscribe(topic: ByteBuffer(string: "perf"))) }
        let peer = try XCTUnwrap(relay.lastPeer)
        let count = iterations(release: 300_000, debug: 20_000)
        let event = ByteBuffer(repeating: 0x61, count: 1024)
        let topic = ByteBuffer(string: "perf")
        // Pre-encode in batches so the fake relay is not the bottleneck.
        let batch = 1000
        var encoded = ByteBuffer()
        for _ in 0..<batch { encoded.writeRelayPacket(.publish(topic: topic, event: event)) }
        let clock = ContinuousClock()
        let start = clock.now
        let producer = Task {
            for _ in 0..<(count / batch) {
                try await peer.channel.writeAndFlush(encoded)
            }
        }
        var received = 0
        for try await _ in subscription {
            received += 1
            if received == count { break }
        }
        let elapsed = clock.now - start
        try await producer.value
        let rate = Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        print("binding event delivery via fake relay: \(Int(rate)) events/s (1 KiB)")
        XCTAssertEqual(received, count)
        try await client.close()
        try await relay.shutdown()
    }
}

struct PerfEcho: ServiceHandler {
    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer { request }
}
