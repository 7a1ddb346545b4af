import Atomics
import Foundation
import Logging
import NIOCore
import Plexus

/// The individual measurements. Each prints one line of figures.
///
/// Services and subscribers connect to `servicePort`, requesters, publishers, broadcasters and
/// tunnel initiators to `clientPort`: the same relay, or relay B and relay A of a two-relay run.
struct Benchmarks {
    let clientPort: Int
    let servicePort: Int
    let logger: Logger
    /// Returns once the client's relay routes to `cluster` / `topic` (its directory lists the
    /// service's relay); immediate with one relay.
    let waitUntilRoutable: @Sendable (_ cluster: String?, _ topic: String?) async throws -> Void

    private func now() -> ContinuousClock.Instant { ContinuousClock.now }

    /// Names for a `--protected` run (keyed in advance on both relays); nil: random names.
    var protectedNames: ProtectedBenchNames? = nil

    /// A fresh name per measurement, so a service closed by the previous one is never chosen.
    private func name(_ base: String) -> String {
        protectedNames?.next(base) ?? "\(base)-\(UInt32.random(in: 0...UInt32.max))"
    }

    private func service(_ cluster: String, _ handler: some ServiceHandler) async throws -> Connection {
        let service = try await Connection.register(cluster: cluster, handler: handler, port: servicePort, logger: logger)
        try await waitUntilRoutable(cluster, nil)
        return service
    }

    private func client() async throws -> Connection {
        try await Connection.connect(port: clientPort, logger: logger)
    }

    func requestLatency(count: Int) async throws {
        let cluster = name("bench-latency")
        let service = try await service(cluster, EchoHandler())
        let client = try await client()
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
        let cluster = name("bench-throughput")
        let service = try await service(cluster, EchoHandler())
        var clients: [Connection] = []
        for _ in 0..<requesters { clients.append(try await client()) }
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

    /// One publisher, `subscribers` subscribers (each its own connection). Paced so that no
    /// subscriber is more than `window` events behind; what never arrives (dropped somewhere,
    /// counted in `plexus status`) is reported as lost once deliveries stop for 5 s.
    func publishThroughput(eventSize: Int, count: Int, subscribers: Int = 1) async throws {
        let topic = name("bench-topic-\(eventSize)")
        var connections: [Connection] = []
        var counters: [ManagedAtomic<Int>] = [], probes: [ManagedAtomic<Int>] = []
        var consumers: [Task<Void, Never>] = []
        for _ in 0..<subscribers {
            let subscriber = try await Connection.connect(port: servicePort, logger: logger)
            let events = try await subscriber.subscribe(to: topic)
            let received = ManagedAtomic(0), probed = ManagedAtomic(0)
            consumers.append(Task {
                var iterator = events.makeAsyncIterator(); while let event = try? await iterator.next() { (isProbe(event) ? probed : received).wrappingIncrement(ordering: .relaxed) }
            })
            connections.append(subscriber)
            counters.append(received)
            probes.append(probed)
        }
        try await waitUntilRoutable(nil, topic)
        let publisher = try await client()
        let payload = ByteBuffer(repeating: 0x2a, count: eventSize)
        // Wait until the subscriptions are live: publish probes until each subscriber got one.
        try await waitUntilDelivering(received: probes) { try await publisher.publish(probe(eventSize), to: topic) }
        let baselines = counters.map { $0.load(ordering: .relaxed) }
        let start = now()
        let lastDelivery = try await paced(total: count, window: 8192, received: counters, baselines: baselines) {
            try await publisher.publish(payload, to: topic)
        }
        let elapsed = start.duration(to: lastDelivery).seconds
        let delivered = zip(counters, baselines).map { $0.load(ordering: .relaxed) - $1 }
        let total = delivered.reduce(0, +)
        print(String(format: "publish → subscribe, %4d B events, 1:%d: %.0f events/s delivered (%d of %d, lost %d, %.1f MB/s)",
                     eventSize, subscribers, Double(total) / elapsed, total, count * subscribers, count * subscribers - total,
                     Double(total * eventSize) / elapsed / 1e6))
        for consumer in consumers { consumer.cancel() }
        try await publisher.close()
        for connection in connections { try await connection.close() }
    }

    func broadcastThroughput(messageSize: Int, count: Int) async throws {
        let cluster = name("bench-broadcast")
        let received = ManagedAtomic(0), probed = ManagedAtomic(0)
        let service = try await service(cluster, CountingHandler(received: received, probed: probed))
        let sender = try await client()
        let payload = ByteBuffer(repeating: 0x2a, count: messageSize)
        try await waitUntilDelivering(received: [probed]) { try await sender.broadcast(probe(messageSize), to: cluster) }
        let baseline = received.load(ordering: .relaxed)
        let start = now()
        let lastDelivery = try await paced(total: count, window: 8192, received: [received], baselines: [baseline]) {
            try await sender.broadcast(payload, to: cluster)
        }
        let elapsed = start.duration(to: lastDelivery).seconds
        let delivered = received.load(ordering: .relaxed) - baseline
        print(String(format: "broadcast, %d B, 1 member: %.0f messages/s delivered (%d of %d, lost %d)",
                     messageSize, Double(delivered) / elapsed, delivered, count, count - delivered))
        try await sender.close()
        try await service.close()
    }

    func tunnelThroughput(megabytes: Int) async throws {
        let cluster = name("bench-tunnel")
        let receivedBytes = ManagedAtomic(0)
        let service = try await service(cluster, DrainingHandler(receivedBytes: receivedBytes))
        let client = try await client()
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

    /// Sends until every counter saw a delivery, so measurements start with live routes.
    private func waitUntilDelivering(received: [ManagedAtomic<Int>], send: () async throws -> Void) async throws {
        let deadline = now().advanced(by: .seconds(10))
        while received.contains(where: { $0.load(ordering: .relaxed) == 0 }) {
            guard now() < deadline else { throw BenchError("no delivery within 10 s") }
            try await send()
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Sends `total` messages keeping every receiver at most `window` messages behind, so the
    /// relays' queues never overflow and every message counts; then waits for the last
    /// delivery. Gives up on a receiver that makes no progress for 5 s (its missing messages
    /// are lost). Returns the time of the last delivery seen.
    private func paced(total: Int, window: Int, received: [ManagedAtomic<Int>], baselines: [Int],
                       send: () async throws -> Void) async throws -> ContinuousClock.Instant {
        func slowest() -> Int { zip(received, baselines).map { $0.load(ordering: .relaxed) - $1 }.min() ?? 0 }
        func sum() -> Int { received.reduce(0) { $0 + $1.load(ordering: .relaxed) } }
        var lastProgress = now(), lastSum = sum(), lastDelivery = now()
        /// Whether deliveries stalled for 5 s; notes the time of the latest progress.
        func stalled() -> Bool {
            let current = sum()
            if current != lastSum { lastSum = current; lastProgress = now(); lastDelivery = lastProgress }
            return lastProgress.duration(to: now()) > .seconds(5)
        }
        for sent in 0..<total {
            while sent - slowest() >= window {
                if stalled() { break }
                try await Task.sleep(for: .microseconds(50))
            }
            try await send()
        }
        while slowest() < total && !stalled() {
            try await Task.sleep(for: .microseconds(50))
        }
        _ = stalled()
        return lastDelivery
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

/// Probes (sent until routes are live) are all zeros; measured messages are not.
func probe(_ size: Int) -> ByteBuffer { ByteBuffer(repeating: 0, count: size) }
func isProbe(_ message: ByteBuffer) -> Bool { message.readableBytesView.first == 0 }

/// Counts broadcasts (probes apart).
struct CountingHandler: ServiceHandler {
    let received: ManagedAtomic<Int>
    let probed: ManagedAtomic<Int>
    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer { request }
    func handleBroadcast(_ message: ByteBuffer) async { (isProbe(message) ? probed : received).wrappingIncrement(ordering: .relaxed) }
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
