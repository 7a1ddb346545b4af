#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Plexus
import PlexusProcesses
import XCTest

/// End to end across relays: three real `plexus relay` processes on loopback joined into one
/// overlay, an echo service on one relay, a client on another. The binding sees ordinary tunnels;
/// their data crosses the relay-to-relay session. Needs the built `plexus` binary (`swift build`).
/// Every wait is bounded.
final class CrossRelayTunnelProcessTests: XCTestCase {
    /// Retries `body` until it succeeds (the relay process may not listen yet); bounded.
    func retrying<T>(_ attempts: Int = 100, _ body: () async throws -> T) async throws -> T {
        var lastError: Error?
        for _ in 0..<attempts {
            do { return try await body() } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(100)) // polling a process that is starting
            }
        }
        throw lastError!
    }

    func testTunnelAcrossRelaysOrderedLargeAndClosedOnRelayDeath() async throws {
        let processes = try RelayProcesses(prefix: "plexus-xtunnel")
        defer { processes.cleanUp() }
        let key = processes.path("network.key")
        XCTAssertEqual(try processes.run(["keygen", "--out", key]).status, 0)
        let r1 = RelaySpec(name: "r1"), r2 = RelaySpec(name: "r2"), r3 = RelaySpec(name: "r3")
        try processes.startRelay(r1, key: key, join: [])
        try processes.startRelay(r2, key: key, join: [r1])
        try processes.startRelay(r3, key: key, join: [r1, r2])

        let cluster = "cross-relay-echo"
        let service = try await retrying { try await Connection.register(cluster: cluster, handler: Recorder(), port: r2.clientPort) }
        let client = try await retrying { try await Connection.connect(port: r1.clientPort) }
        // r1 learns that r2 serves the cluster through the directory (gossip): retry the construction.
        let tunnel = try await retrying(60) { try await client.tunnel(to: cluster, timeout: .milliseconds(500)) }

        // 1,000 ordered messages, echoed back across the relays.
        let sender = Task { for i in 0..<1000 { try await tunnel.send("message \(i)", timeout: .seconds(10)) } }
        for i in 0..<1000 {
            let message = try await tunnel.receive(timeout: .seconds(10))
            XCTAssertEqual(String(buffer: message), "message \(i)")
        }
        try await sender.value

        // One 64 MiB message (1,024 chunks each way), intact.
        let size = 64 << 20
        let pattern = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var big = ByteBuffer()
        big.reserveCapacity(size)
        for _ in 0..<(size / pattern.count) { big.writeBytes(pattern) }
        let clock = ContinuousClock()
        let start = clock.now
        try await tunnel.send(big, timeout: .seconds(120))
        let echo = try await tunnel.receive(timeout: .seconds(120))
        print("64 MiB echo across two relays took \(clock.now - start)")
        XCTAssertEqual(echo.readableBytes, size)
        XCTAssertTrue(echo == big, "64 MiB echo differs")
        try await tunnel.close()

        // The serving relay dies: a tunnel through it closes at once, not at some timeout.
        let second = try await client.tunnel(to: cluster, timeout: .seconds(5))
        try await second.send("before", timeout: .seconds(5))
        let before = try await second.receive(timeout: .seconds(5))
        XCTAssertEqual(String(buffer: before), "before")
        processes.signal("r2", SIGKILL)
        let killed = clock.now
        do {
            _ = try await second.receive(timeout: .seconds(30))
            XCTFail("a tunnel through a dead relay still delivered")
        } catch {
            let took = clock.now - killed
            print("tunnel closed \(took) after its relay was killed: \(error)")
            XCTAssertLessThan(took, .seconds(10), "closed when the session dropped, not at the receive timeout")
        }
        try? await client.close()
        _ = service
    }

    func testSlowReceiverOnAnotherRelayStopsTheSender() async throws {
        let processes = try RelayProcesses(prefix: "plexus-xtunnel")
        defer { processes.cleanUp() }
        let key = processes.path("network.key")
        XCTAssertEqual(try processes.run(["keygen", "--out", key]).status, 0)
        let r1 = RelaySpec(name: "r1"), r2 = RelaySpec(name: "r2")
        try processes.startRelay(r1, key: key, join: [])
        try processes.startRelay(r2, key: key, join: [r1])

        let cluster = "cross-relay-sink"
        let (gate, open) = AsyncStream<Void>.makeStream()
        let sink = GatedSink(gate: gate)
        let service = try await retrying { try await Connection.register(cluster: cluster, handler: sink, port: r2.clientPort) }
        let client = try await retrying { try await Connection.connect(port: r1.clientPort) }
        let tunnel = try await retrying(60) { try await client.tunnel(to: cluster, timeout: .milliseconds(500)) }

        // The service's application takes nothing: once the relays' windows (4 MiB each) and what
        // the service's binding itself accepts (its 64 MiB allowance) are full, sends stop.
        let messageSize = 1 << 20
        var sent = 0
        while sent < 200 {
            var message = ByteBuffer(repeating: 0, count: messageSize)
            message.setInteger(UInt32(sent), at: 0)
            do { try await tunnel.send(message, timeout: .seconds(2)) } catch { break }
            sent += 1
        }
        print("sent \(sent) MiB before the sender's credit stopped")
        XCTAssertLessThanOrEqual(sent, 4 + 4 + 64 + 1,
                                 "in flight ≤ both relays' windows + the receiving binding's allowance (+ the message cut off)")
        XCTAssertGreaterThanOrEqual(sent, 8, "at least both relays' windows")

        // The application starts reading: every complete message arrives, in order.
        open.yield()
        let complete = sent
        let all = await poll(within: .seconds(60)) { sink.received.count >= complete }
        XCTAssertTrue(all, "got \(sink.received.count) of \(complete)")
        XCTAssertEqual(Array(sink.received.prefix(complete)), Array(0..<complete))
        try? await tunnel.close()
        try? await client.close()
        try? await service.close()
    }
}

/// A service whose tunnel handler waits for `gate`, then records the index (first 4 bytes) of
/// every message it receives.
final class GatedSink: ServiceHandler {
    let gate: AsyncStream<Void>
    private let indexes = NIOLockedValueBox<[Int]>([])

    init(gate: AsyncStream<Void>) { self.gate = gate }

    var received: [Int] { indexes.withLockedValue { $0 } }

    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer { request }

    func handleTunnel(_ tunnel: Tunnel) async {
        for await _ in gate { break }
        while let message = try? await tunnel.receive() {
            let index = Int(message.getInteger(at: message.readerIndex, as: UInt32.self) ?? .max)
            indexes.withLockedValue { $0.append(index) }
        }
    }
}
