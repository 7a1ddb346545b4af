import Logging
import NIOConcurrencyHelpers
import NIOCore
import Plexus
import PlexusRelay
import XCTest

/// End-to-end tests: the `Plexus` binding against the real `PlexusRelay`, over loopback TCP.
/// One relay per test (port 0), so tests are independent. They cover the behaviours of the
/// reference suite (spec §13). Timing assertions are widened for a loaded 2-core machine; each
/// states its tolerance. Every wait is bounded.
final class EndToEndTests: XCTestCase {
    private var relay: RelayServer!
    private var port: Int { relay.port }
    private let cluster = "swift-binding-test-cluster"
    private let topic = "swift-binding-test-topic"

    override func setUp() async throws {
        var configuration = RelayConfiguration()
        configuration.port = 0
        var logger = Logger(label: "relay")
        logger.logLevel = .warning
        relay = try await RelayServer.start(configuration: configuration, logger: logger)
    }

    override func tearDown() async throws {
        await relay.shutdown()
        relay = nil
    }

    // MARK: Connections

    func testConnect100Concurrently() async throws {
        let port = self.port
        try await withThrowingTaskGroup(of: Connection.self) { group in
            for _ in 0..<100 { group.addTask { try await Connection.connect(port: port) } }
            var connections: [Connection] = []
            for try await connection in group { connections.append(connection) }
            XCTAssertEqual(connections.count, 100)
            try await withThrowingTaskGroup(of: Void.self) { closes in
                for connection in connections { closes.addTask { try await connection.close() } }
                try await closes.waitForAll()
            }
        }
    }

    func testRegister100Concurrently() async throws {
        let port = self.port, cluster = self.cluster
        let handler = Recorder()
        try await withThrowingTaskGroup(of: Connection.self) { group in
            for _ in 0..<100 { group.addTask { try await Connection.register(cluster: cluster, handler: handler, port: port) } }
            var services: [Connection] = []
            for try await service in group { services.append(service) }
            XCTAssertEqual(services.count, 100)
            try await withThrowingTaskGroup(of: Void.self) { closes in
                for service in services { closes.addTask { try await service.close() } }
                try await closes.waitForAll()
            }
        }
        XCTAssertEqual(handler.drops, [])
    }

    // MARK: Broadcast

    func testBroadcastToEveryMemberIncludingSelf() async throws {
        let port = self.port, cluster = self.cluster
        let n = 25, count = 25
        var handlers: [Recorder] = []
        var services: [Connection] = []
        var clients: [Connection] = []
        for _ in 0..<n {
            let handler = Recorder()
            handlers.append(handler)
            services.append(try await Connection.register(cluster: cluster, handler: handler, port: port))
            clients.append(try await Connection.connect(port: port))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<n {
                let client = clients[i], service = services[i]
                group.addTask { for j in 0..<count { try await client.broadcast("client #\(i), broadcast \(j)", to: cluster) } }
                group.addTask { for j in 0..<count { try await service.broadcast("server #\(i), broadcast \(j)", to: cluster) } }
            }
            try await group.waitForAll()
        }
        let expected = Set((0..<n).flatMap { i in (0..<count).flatMap { j in ["client #\(i), broadcast \(j)", "server #\(i), broadcast \(j)"] } })
        for handler in handlers {
            let done = await poll(within: .seconds(30)) { handler.broadcastCount == expected.count }
            XCTAssertTrue(done, "received \(handler.broadcastCount) of \(expected.count)")
            XCTAssertEqual(Set(handler.broadcastTexts), expected)
        }
        for connection in services + clients { try await connection.close() }
        for handler in handlers { XCTAssertEqual(handler.drops, []) }
    }

    /// Reference: 4 self-broadcasts, 1 thread, 100 ms handler, "after 250 ms exactly 2 handled".
    /// Here: never more than 1 handler at a time, all 4 handled within 10 s, and they took
    /// ≥ 390 ms together (serialised), which does not depend on scheduling delays.
    func testBroadcastThreadLimit() async throws {
        let handler = Recorder(delay: .milliseconds(100))
        let service = try await Connection.register(
            cluster: cluster, handler: handler, limits: .init(broadcastConcurrency: 1), port: port)
        let start = ContinuousClock.now
        for i in 0..<4 { try await service.broadcast([UInt8(i)], to: cluster) }
        let done = await poll(within: .seconds(10)) { handler.broadcastsFinished == 4 }
        XCTAssertTrue(done)
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(390))
        XCTAssertEqual(handler.maxConcurrentBroadcasts, 1)
        try await service.close()
        XCTAssertEqual(handler.drops, [])
    }

    /// Reference waits ~1 ms for each delivery; here each wait is bounded by 2 s.
    func testBroadcastMemoryLimit() async throws {
        let handler = Recorder()
        let service = try await Connection.register(
            cluster: cluster, handler: handler, limits: .init(broadcastMemoryBytes: 1), port: port)
        try await service.broadcast([1], to: cluster)
        var ok = await poll(within: .seconds(2)) { handler.broadcastCount == 1 }
        XCTAssertTrue(ok)
        try await service.broadcast([2, 2], to: cluster)
        try await service.broadcast([3], to: cluster)
        ok = await poll(within: .seconds(2)) { handler.broadcastCount == 2 }
        XCTAssertTrue(ok)
        try await Task.sleep(for: .milliseconds(100))  // the dropped one must not show up late
        XCTAssertEqual(handler.broadcastBytes, [[1], [3]])
        try await service.close()
    }

    // MARK: Publish / subscribe

    func testPublishToEverySubscriberIncludingSelf() async throws {
        let port = self.port, cluster = self.cluster
        let topics = (0..<7).map { "\(topic)-\($0)" }
        let n = 5, count = 15
        var connections: [Connection] = []
        for _ in 0..<n {
            connections.append(try await Connection.connect(port: port))
            connections.append(try await Connection.register(cluster: cluster, handler: Recorder(), port: port))
        }
        // Subscribe everyone everywhere; a self-published probe per topic proves the relay
        // has processed the subscription (it handles each connection's packets in order).
        var subscriptions: [[Subscription]] = []
        for connection in connections {
            var mine: [Subscription] = []
            for topic in topics {
                let subscription = try await connection.subscribe(to: topic)
                try await connection.publish("probe", to: topic)
                var iterator = subscription.makeAsyncIterator()
                let probe = try await iterator.next()
                XCTAssertEqual(probe.map { String(buffer: $0) }, "probe")
                mine.append(subscription)
            }
            subscriptions.append(mine)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, connection) in connections.enumerated() {
                group.addTask {
                    for topic in topics { for j in 0..<count { try await connection.publish("#\(i) event \(j)", to: topic) } }
                }
            }
            try await group.waitForAll()
        }
        let expected = connections.count * count
        try await withThrowingTaskGroup(of: Int.self) { group in
            for mine in subscriptions {
                for subscription in mine {
                    group.addTask {
                        var received = 0
                        var perSender: [String: Int] = [:]
                        for try await event in subscription {
                            let text = String(buffer: event)
                            if text == "probe" { continue }  // later subscribers' probes
                            let sender = String(text.prefix { $0 != " " })
                            let index = Int(text.split(separator: " ").last!)!
                            // Per-sender order is kept end to end (relay FIFO + in-order delivery).
                            XCTAssertEqual(index, perSender[sender, default: 0])
                            perSender[sender] = index + 1
                            received += 1
                            if received == expected { break }
                        }
                        return received
                    }
                }
            }
            // Bound: if events go missing, closing the connections ends the sequences.
            let all = connections
            let deadline = Task { try await Task.sleep(for: .seconds(30)); for c in all { try? await c.close() } }
            for try await received in group { XCTAssertEqual(received, expected) }
            deadline.cancel()
        }
        for connection in connections { try await connection.close() }
    }

    /// Reference: 1 event thread, 100 ms handler, 4 self-published events, "after 250 ms
    /// exactly 2". Here: max 1 concurrent, all 4 within 10 s, ≥ 390 ms in total, in order.
    func testPublishThreadLimit() async throws {
        let client = try await Connection.connect(port: port)
        let seen = Counter()
        try await client.subscribe(to: topic, limits: .init(eventConcurrency: 1)) { event in
            seen.enter(event)
            try? await Task.sleep(for: .milliseconds(100))
            seen.leave()
        }
        try await waitForSubscription(client)
        let start = ContinuousClock.now
        for i in 0..<4 { try await client.publish([UInt8(i)], to: topic) }
        let done = await poll(within: .seconds(10)) { seen.finished == 4 }
        XCTAssertTrue(done)
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(390))
        XCTAssertEqual(seen.maxConcurrent, 1)
        XCTAssertEqual(seen.events, [[0], [1], [2], [3]])
        try await client.close()
    }

    func testPublishMemoryLimit() async throws {
        let client = try await Connection.connect(port: port)
        let seen = Counter()
        try await client.subscribe(to: topic, limits: .init(eventMemoryBytes: 1)) { event in
            seen.enter(event)
            seen.leave()
        }
        try await waitForSubscription(client)
        try await client.publish([1], to: topic)
        var ok = await poll(within: .seconds(2)) { seen.finished == 1 }
        XCTAssertTrue(ok)
        try await client.publish([2, 2], to: topic)
        try await client.publish([3], to: topic)
        ok = await poll(within: .seconds(2)) { seen.finished == 2 }
        XCTAssertTrue(ok)
        try await Task.sleep(for: .milliseconds(100))
        XCTAssertEqual(seen.events, [[1], [3]])
        try await client.close()
    }

    func testUnsubscribeEndsTheSequence() async throws {
        let client = try await Connection.connect(port: port)
        let subscription = try await client.subscribe(to: topic)
        try await client.publish("one", to: topic)
        try await client.unsubscribe(from: topic)
        var collected: [String] = []
        for try await event in subscription { collected.append(String(buffer: event)) }  // ends: unsubscribed
        XCTAssertLessThanOrEqual(collected.count, 1)
        try await client.close()
    }

    // MARK: Request / reply

    func testRequestEcho() async throws {
        let port = self.port, cluster = self.cluster
        let n = 25, count = 25
        var services: [Connection] = []
        var clients: [Connection] = []
        for _ in 0..<n {
            services.append(try await Connection.register(cluster: cluster, handler: Recorder(), port: port))
            clients.append(try await Connection.connect(port: port))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, connection) in (clients + services).enumerated() {
                group.addTask {
                    for j in 0..<count {
                        let request = "#\(i) request \(j)"
                        let reply = try await connection.request(request, to: cluster, timeout: .seconds(10))
                        XCTAssertEqual(reply, request)
                    }
                }
            }
            try await group.waitForAll()
        }
        for connection in services + clients { try await connection.close() }
    }

    func testManyConcurrentRequesters() async throws {
        let port = self.port, cluster = self.cluster
        var services: [Connection] = []
        for _ in 0..<4 { services.append(try await Connection.register(cluster: cluster, handler: Recorder(), port: port)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<100 {
                group.addTask {
                    let client = try await Connection.connect(port: port)
                    for j in 0..<10 {
                        let reply = try await client.request([UInt8(i), UInt8(j)], to: cluster, timeout: .seconds(10))
                        XCTAssertEqual(reply, [UInt8(i), UInt8(j)])
                    }
                    try await client.close()
                }
            }
            try await group.waitForAll()
        }
        for service in services { try await service.close() }
    }

    func testRequestFailCarriesTheFaultTextVerbatim() async throws {
        let service = try await Connection.register(cluster: cluster, handler: FailWithText(), port: port)
        for i in 0..<125 {
            do {
                _ = try await service.request("failure \(i)", to: cluster, timeout: .seconds(5))
                XCTFail("request \(i) succeeded")
            } catch let error as PlexusError {
                XCTAssertEqual(error, .remoteFault("failure \(i)"))
            }
        }
        try await service.close()
    }

    /// Handler sleeps 25 ms: a 12.5 ms (sent as 12) request times out. The 50 ms success case
    /// of the reference is kept, but given up to 3 attempts (scheduling on a loaded 2-core box
    /// can exceed 25 ms of slack once).
    func testRequestTimeout() async throws {
        let handler = Recorder(delay: .milliseconds(25))
        let service = try await Connection.register(cluster: cluster, handler: handler, port: port)
        var succeeded = false
        for _ in 0..<3 where !succeeded {
            succeeded = (try? await service.request("x", to: cluster, timeout: .milliseconds(50))) == "x"
        }
        XCTAssertTrue(succeeded)
        do {
            _ = try await service.request("y", to: cluster, timeout: .microseconds(12_500))
            XCTFail("12 ms request succeeded against a 25 ms handler")
        } catch let error as PlexusError {
            XCTAssertEqual(error, .timedOut)
        }
        try await service.close()
        XCTAssertEqual(handler.drops, [])
    }

    /// Reference: 1 thread, 25 ms handler, 4 concurrent 125 ms requests, 2 done after 62.5 ms.
    /// Here (robust form): generous timeouts, never more than 1 concurrent handler, all 4
    /// succeed, and together they took ≥ 95 ms.
    func testRequestThreadLimit() async throws {
        let handler = Recorder(delay: .milliseconds(25))
        let service = try await Connection.register(
            cluster: cluster, handler: handler, limits: .init(requestConcurrency: 1), port: port)
        let cluster = self.cluster
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<4 {
                group.addTask {
                    let reply = try await service.request([UInt8(i)], to: cluster, timeout: .seconds(5))
                    XCTAssertEqual(reply, [UInt8(i)])
                }
            }
            try await group.waitForAll()
        }
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(95))
        XCTAssertEqual(handler.maxConcurrentRequests, 1)
        XCTAssertEqual(handler.calls, 4)
        try await service.close()
    }

    func testRequestMemoryLimit() async throws {
        let handler = Recorder(delay: .milliseconds(25))
        let service = try await Connection.register(
            cluster: cluster, handler: handler, limits: .init(requestMemoryBytes: 1), port: port)
        let ok = try await service.request([1], to: cluster, timeout: .seconds(2))
        XCTAssertEqual(ok, [1])
        do {
            _ = try await service.request([2, 2], to: cluster, timeout: .milliseconds(200))
            XCTFail("2-byte request was served under a 1-byte memory limit")
        } catch let error as PlexusError {
            XCTAssertEqual(error, .timedOut)
        }
        let again = try await service.request([3], to: cluster, timeout: .seconds(2))
        XCTAssertEqual(again, [3])
        try await service.close()
    }

    /// 1 thread, 25 ms handler, 4 concurrent requests with a 1 ms timeout: all time out and the
    /// handler runs at most once (the others expire in the binding's queue; on a loaded machine
    /// even the first may expire before it starts, so 0 is correct too).
    func testRequestExpiration() async throws {
        let handler = Recorder(delay: .milliseconds(25))
        let service = try await Connection.register(
            cluster: cluster, handler: handler, limits: .init(requestConcurrency: 1), port: port)
        let cluster = self.cluster
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<4 {
                group.addTask { _ = try? await service.request([UInt8(i)], to: cluster, timeout: .milliseconds(1)) }
            }
        }
        try await Task.sleep(for: .milliseconds(125)) // what must NOT happen: more handler calls
        XCTAssertLessThanOrEqual(handler.calls, 1)
        try await service.close()
    }

    // MARK: Tunnels

    func testTunnelEcho() async throws {
        let port = self.port, cluster = self.cluster
        let n = 7
        var connections: [Connection] = []
        var handlers: [Recorder] = []
        for _ in 0..<n {
            let handler = Recorder()
            handlers.append(handler)
            connections.append(try await Connection.register(cluster: cluster, handler: handler, port: port))
            connections.append(try await Connection.connect(port: port))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (who, connection) in connections.enumerated() {
                for k in 0..<n {
                    group.addTask {
                        let tunnel = try await connection.tunnel(to: cluster, timeout: .seconds(5))
                        for l in 0..<n { try await tunnel.send("\(who), tunnel #\(k), message #\(l)", timeout: .seconds(5)) }
                        for l in 0..<n {
                            let echo = try await tunnel.receive(timeout: .seconds(5))
                            XCTAssertEqual(String(buffer: echo), "\(who), tunnel #\(k), message #\(l)")
                        }
                        try await tunnel.close()
                    }
                }
            }
            try await group.waitForAll()
        }
        // Every acceptor saw its tunnel closed by the initiator and left its echo loop.
        let all = handlers
        let ended = await poll(within: .seconds(10)) { all.reduce(0) { $0 + $1.tunnelsEnded } == 2 * n * n }
        XCTAssertTrue(ended)
        for connection in connections { try await connection.close() }
        for handler in handlers { XCTAssertEqual(handler.drops, []) }
    }

    func testTunnelThousandOrderedMessages() async throws {
        let service = try await Connection.register(cluster: cluster, handler: Recorder(), port: port)
        let client = try await Connection.connect(port: port)
        let tunnel = try await client.tunnel(to: cluster, timeout: .seconds(5))
        let sender = Task { for i in 0..<1000 { try await tunnel.send("message \(i)", timeout: .seconds(5)) } }
        for i in 0..<1000 {
            let message = try await tunnel.receive(timeout: .seconds(5))
            XCTAssertEqual(String(buffer: message), "message \(i)")
        }
        try await sender.value
        try await tunnel.close()
        try await client.close()
        try await service.close()
    }

    func testTunnelLargeMessage() async throws {
        let service = try await Connection.register(cluster: cluster, handler: Recorder(), port: port)
        let tunnel = try await service.tunnel(to: cluster, timeout: .seconds(5))
        let size = 64 << 20
        let pattern = (0..<65_536).map { UInt8(truncatingIfNeeded: $0) }  // byte i = i mod 256
        var message = ByteBuffer()
        message.reserveCapacity(size)
        for _ in 0..<(size / pattern.count) { message.writeBytes(pattern) }
        let clock = ContinuousClock()
        let start = clock.now
        try await tunnel.send(message, timeout: .seconds(60))
        let echo = try await tunnel.receive(timeout: .seconds(60))
        print("64 MiB tunnel echo took \(clock.now - start)")
        XCTAssertEqual(echo.readableBytes, size)
        XCTAssertTrue(echo == message, "64 MiB echo differs")
        try await tunnel.close()
        try await service.close()
    }

    func testTunnelOverload() async throws {
        let service = try await Connection.register(cluster: cluster, handler: Recorder(), port: port)
        let tunnel = try await service.tunnel(to: cluster, timeout: .seconds(5))
        let huge = ByteBuffer(repeating: 7, count: 64 << 20)
        for _ in 0..<10 {
            do {
                try await tunnel.send(huge, timeout: .milliseconds(10))
                XCTFail("64 MiB went through within 10 ms")
            } catch let error as PlexusError {
                XCTAssertEqual(error, .timedOut)
            }
        }
        for i in 0..<10 {
            let message = ByteBuffer(string: "small #\(i)")
            try await tunnel.send(message, timeout: .seconds(5))
            let echo = try await tunnel.receive(timeout: .seconds(5))
            XCTAssertEqual(echo, message)
        }
        try await tunnel.close()
        try await service.close()
    }

    func testTunnelConstructionWithoutMembersFailsAtOnce() async throws {
        let client = try await Connection.connect(port: port)
        let start = ContinuousClock.now
        do {
            _ = try await client.tunnel(to: cluster, timeout: .seconds(10))
            XCTFail("tunnel built with no member")
        } catch let error as PlexusError {
            XCTAssertEqual(error, .timedOut) // the only failure v1's TUN_CONFIRM can express
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(5), "answered by the relay, not at the deadline")
        try await client.close()
    }

    func testTunnelCloseIsSeenByThePeer() async throws {
        let handler = Recorder()
        let service = try await Connection.register(cluster: cluster, handler: handler, port: port)
        let client = try await Connection.connect(port: port)
        let tunnel = try await client.tunnel(to: cluster, timeout: .seconds(5))
        try await tunnel.close()
        let ended = await poll(within: .seconds(5)) { handler.tunnelsEnded == 1 }
        XCTAssertTrue(ended)
        try await client.close()
        try await service.close()
    }

    // MARK: Close

    func testGracefulCloseWithPendingOperations() async throws {
        let slow = Recorder(delay: .seconds(5))
        let service = try await Connection.register(cluster: cluster, handler: slow, port: port)
        let echo = try await Connection.register(cluster: "\(cluster)-echo", handler: Recorder(), port: port)
        let client = try await Connection.connect(port: port)
        let cluster = self.cluster
        let request = Task { try await client.request("slow", to: cluster, timeout: .seconds(10)) }
        let tunnel = try await client.tunnel(to: "\(cluster)-echo", timeout: .seconds(5))
        let receive = Task { try await tunnel.receive() }
        let started = await poll(within: .seconds(5)) { slow.calls == 1 }
        XCTAssertTrue(started)
        try await client.close()
        do {
            _ = try await request.value
            XCTFail("pending request succeeded after close")
        } catch let error as PlexusError {
            guard case .closed = error else { return XCTFail("expected .closed, got \(error)") }
        }
        do {
            _ = try await receive.value
            XCTFail("pending receive succeeded after close")
        } catch let error as PlexusError {
            guard case .closed = error else { return XCTFail("expected .closed, got \(error)") }
        }
        try await echo.close()
        try await service.close()
        XCTAssertEqual(slow.drops, [])
    }

    // MARK: Helpers

    /// Waits until a self-published probe on `topic` comes back through the subscription.
    private func waitForSubscription(_ client: Connection) async throws {
        let probeTopic = "\(topic)-probe"
        let probe = try await client.subscribe(to: probeTopic)
        try await client.publish("probe", to: probeTopic)
        var iterator = probe.makeAsyncIterator()
        _ = try await iterator.next()
        try await client.unsubscribe(from: probeTopic)
    }
}
