#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Plexus
import XCTest

/// End to end across relays: three real `plexus relay` processes on loopback joined into one
/// overlay, an echo service on one relay, a client on another. The binding sees ordinary tunnels;
/// their data crosses the relay-to-relay session. Skipped if the `plexus` binary was not built.
/// Every wait is bounded.
final class CrossRelayTunnelProcessTests: XCTestCase {
    /// Spawns `plexus` children and kills them all in `stopAll`.
    final class Processes {
        let binary: String
        let directory: URL
        private(set) var children: [String: Process] = [:]

        init() throws {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            let candidates = [".build/debug/plexus", ".build/x86_64-unknown-linux-gnu/debug/plexus",
                              ".build/aarch64-unknown-linux-gnu/debug/plexus"].map { root.appendingPathComponent($0).path }
            guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                throw XCTSkip("the plexus binary was not found; run `swift build` first")
            }
            binary = found
            directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("plexus-xtunnel-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }

        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

        func start(_ name: String, _ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
            let log = path("\(name).log")
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            children[name] = process
        }

        /// Runs a short command to completion (bounded) and returns its exit status.
        func run(_ arguments: [String]) throws -> Int32 {
            try start("run", arguments)
            let process = children.removeValue(forKey: "run")!
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            return process.terminationStatus
        }

        func kill9(_ name: String) {
            guard let process = children[name], process.isRunning else { return }
            kill(process.processIdentifier, SIGKILL)
        }

        func log(_ name: String) -> String { (try? String(contentsOfFile: path("\(name).log"), encoding: .utf8)) ?? "" }

        func stopAll() {
            for (_, process) in children {
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
            }
            children.removeAll()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    struct Relay {
        let name: String
        let clientPort = freeLoopbackPort()
        let peerPort = freeLoopbackPort()
        let adminPort = freeLoopbackPort()

        func arguments(key: String, dataDirectory: String, join: [Relay]) -> [String] {
            var arguments = ["relay", "--key", key, "--data-dir", dataDirectory,
                             "--port", "\(clientPort)", "--peer-port", "\(peerPort)",
                             "--peer-host", "127.0.0.1", "--advertise", "127.0.0.1",
                             "--admin-port", "\(adminPort)", "--zone", "zone-\(name)"]
            for seed in join { arguments += ["--join", "127.0.0.1:\(seed.peerPort)"] }
            return arguments
        }
    }

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
        let processes = try Processes()
        defer { processes.stopAll() }
        let key = processes.path("network.key")
        XCTAssertEqual(try processes.run(["keygen", "--out", key]), 0)
        let r1 = Relay(name: "r1"), r2 = Relay(name: "r2"), r3 = Relay(name: "r3")
        try processes.start("r1", r1.arguments(key: key, dataDirectory: processes.path("data-r1"), join: []))
        try processes.start("r2", r2.arguments(key: key, dataDirectory: processes.path("data-r2"), join: [r1]))
        try processes.start("r3", r3.arguments(key: key, dataDirectory: processes.path("data-r3"), join: [r1, r2]))

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
        processes.kill9("r2")
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
        let processes = try Processes()
        defer { processes.stopAll() }
        let key = processes.path("network.key")
        XCTAssertEqual(try processes.run(["keygen", "--out", key]), 0)
        let r1 = Relay(name: "r1"), r2 = Relay(name: "r2")
        try processes.start("r1", r1.arguments(key: key, dataDirectory: processes.path("data-r1"), join: []))
        try processes.start("r2", r2.arguments(key: key, dataDirectory: processes.path("data-r2"), join: [r1]))

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

/// A port free for both TCP and UDP on 127.0.0.1 right now (bound to 0, then released).
func freeLoopbackPort() -> Int {
    for _ in 0..<50 {
        let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(tcp) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(tcp, pointer, length) == 0 && getsockname(tcp, pointer, &length) == 0
            }
        }
        guard bound else { continue }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(udp) }
        let udpBound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(udp, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        if udpBound && port < 60000 { return port }
    }
    fatalError("no free port")
}
