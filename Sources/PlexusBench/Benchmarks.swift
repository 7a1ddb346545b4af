import Atomics
import Foundation
import Logging
import NIOCore
import Plexus

/// The individual measurements. Each prints one line of figures.
struct Benchmarks {
    let port: Int
    let logger: Logger

    private func now() -> ContinuousClock.Instant { ContinuousClock.now }

    func requestLatency(count: Int) async throws {
        let cluster = "bench-latency"
        let service = try await Connection.register(cluster: cluster, handler: EchoHandler(), port: port, logger: logger)
        let client = try await Connection.connect(port: port, logger: logger)
        let payload = ByteBuffer(repeating: 0x2a, count: 1)
        for _ in 0..<min(1000, count) { _ = try await client.request(payload, to: cluster, timeout: .seconds(10)) }
        var samples: [Duration] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
            let start = now()
            _ = try await client.request(payload, to: cluster, timeout: .seconds(10))
            samples.append(start.duration(to: now()))
        }
        samples.sort()
        print(String(format: "request latency, 1 B, sequential, %d requests: p50 %.1f µs, p99 %.1f µs",
                     count, samples[count / 2].microseconds, samples[count * 99 / 100].microseconds))
        try await client.close()
        try await service.close()
    }

    func requestThroughput(requesters: Int, seconds: Double) async throws {
        let cluster = "bench-throughput"
        let service = try await Connection.register(cluster: cluster, handler: EchoHandler(), port: port, logger: logger)
        var clients: [Connection] = []
        for _ in 0..<requesters { clients.append(try await Connection.connect(port: port, logger: logger)) }
        let payload = ByteBuffer(repeating: 0x2a, count: 64)
        let deadline = now().advanced(by: .milliseconds(Int(seconds * 1000)))
        let start = now()
        let completed = try await withThrowingTaskGroup(of: Int.self) { group in
            for client in clients {
                group.addTask {
                    var done = 0
                    while ContinuousClock.now < deadline {
                        _ = try await client.request(payload, to: cluster, timeout: .seconds(10))
                        done += 1
                    }
                    return done
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = start.duration(to: now()).seconds
        print(String(format: "request throughput, 64 B, %2d concurrent requesters: %.0f requests/s", requesters, Double(completed) / elapsed))
        for client in clients { try await client.close() }
        try await service.close()
    }

    func publishThroughput(eventSize: Int, count: Int) async throws {
        let topic = "bench-topic-\(eventSize)"
        let subscriber = try await Connection.connect(port: port, logger: logger)
        let publisher = try await Connection.connect(port: port, logger: logger)
        let events = try await subscriber.subscribe(to: topic)
        let received = ManagedAtomic(0)
        // Wait until the subscription is live: publish probes until one arrives.
        let consumer = Task {
            var count = 0
            for try await _ in events {
                count += 1
                received.store(count, ordering: .relaxed)
            }
        }
        let payload = ByteBuffer(repeating: 0x2a, count: eventSize)
        try await waitUntilDelivering(received: received) { try await publisher.publish(payload, to: topic) }
        let baseline = received.load(ordering: .relaxed)
        let start = now()
        try await paced(total: count, window: 8192, received: received, baseline: baseline) {
            try await publisher.publish(payload, to: topic)
        }
        let elapsed = start.duration(to: now()).seconds
        let delivered = received.load(ordering: .relaxed) - baseline
        print(String(format: "publish → subscribe, %4d B events, 1:1: %.0f events/s delivered (%d of %d, %.1f MB/s)",
                     eventSize, Double(delivered) / elapsed, delivered, count, Double(delivered * eventSize) / elapsed / 1e6))
        consumer.cancel()
        try await publisher.close()
        try await subscriber.close()
    }

    func broadcastThroughput(messageSize: Int, count: Int) async throws {
        let cluster = "bench-broadcast"
        let received = ManagedAtomic(0)
        let service = try await Connection.register(cluster: cluster, handler: CountingHandler(received: received), port: port, logger: logger)
        let sender = try await Connection.connect(port: port, logger: logger)
        let payload = ByteBuffer(repeating: 0x2a, count: messageSize)
        try await waitUntilDelivering(received: received) { try await sender.broadcast(payload, to: cluster) }
        let baseline = received.load(ordering: .relaxed)
        let start = now()
        try await paced(total: count, window: 8192, received: received, baseline: baseline) {
            try await sender.broadcast(payload, to: cluster)
        }
        let elapsed = start.duration(to: now()).seconds
        let delivered = received.load(ordering: .relaxed) - baseline
        print(String(format: "broadcast, %d B, 1 member: %.0f messages/s delivered (%d of %d)",
                     messageSize, Double(delivered) / elapsed, delivered, count))
        try await sender.close()
        try await service.close()
    }

    func tunnelThroughput(megabytes: Int) async throws {
        let cluster = "bench-tunnel"
        let receivedBytes = ManagedAtomic(0)
        let service = try await Connection.register(cluster: cluster, handler: DrainingHandler(receivedBytes: receivedBytes), port: port, logger: logger)
        let client = try await Connection.connect(port: port, logger: logger)
        let tunnel = try await client.tunnel(to: cluster, timeout: .seconds(5))
        let messageSize = 1024 * 1024
        let message = ByteBuffer(repeating: 0x2a, count: messageSize)
        let total = megabytes * messageSize
        let start = now()
        for _ in 0..<megabytes { try await tunnel.send(message, timeout: .seconds(30)) }
        let drainDeadline = now().advanced(by: .seconds(60))
        while receivedBytes.load(ordering: .relaxed) < total && now() < drainDeadline {
            try await Task.sleep(for: .microseconds(200))
        }
        let elapsed = start.duration(to: now()).seconds
        print(String(format: "tunnel, 1 MiB messages, %d MiB: %.0f MB/s", megabytes, Double(receivedBytes.load(ordering: .relaxed)) / elapsed / 1e6))
        try await tunnel.close()
        try await client.close()
        try await service.close()
    }

    /// Sends until the first delivery is seen, so measurements start with a live route.
    private func waitUntilDelivering(received: ManagedAtomic<Int>, send: () async throws -> Void) async throws {
        let deadline = now().advanced(by: .seconds(10))
        while received.load(ordering: .relaxed) == 0 {
            guard now() < deadline else { throw BenchError("no delivery within 10 s") }
            try await send()
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Sends `total` messages keeping at most `window` of them undelivered, so the relay's
    /// queues never overflow and every message counts; then waits for the last delivery.
    private func paced(total: Int, window: Int, received: ManagedAtomic<Int>, baseline: Int, send: () async throws -> Void) async throws {
        let deadline = now().advanced(by: .seconds(120))
        for sent in 0..<total {
            while sent - (received.load(ordering: .relaxed) - baseline) >= window {
                guard now() < deadline else { throw BenchError("deliveries stalled") }
                try await Task.sleep(for: .microseconds(50))
            }
            try await send()
        }
        while received.load(ordering: .relaxed) - baseline < total {
            guard now() < deadline else { throw BenchError("deliveries stalled at \(received.load(ordering: .relaxed) - baseline) of \(total)") }
            try await Task.sleep(for: .microseconds(50))
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var microseconds: Double { seconds * 1e6 }
}

/// Answers each request with its payload.
struct EchoHandler: ServiceHandler {
    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer { request }
}

/// Counts broadcasts.
struct CountingHandler: ServiceHandler {
    let received: ManagedAtomic<Int>
    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer { request }
    func handleBroadcast(_ message: ByteBuffer) async { received.wrappingIncrement(ordering: .relaxed) }
}

/// Reads every inbound tunnel to its end, counting bytes.
struct DrainingHandler: ServiceHandler {
    let receivedBytes: ManagedAtomic<Int>
    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer { request }
    func handleTunnel(_ tunnel: Tunnel) async {
        while let message = try? await tunnel.receive() {
            receivedBytes.wrappingIncrement(by: message.readableBytes, ordering: .relaxed)
        }
    }
}
