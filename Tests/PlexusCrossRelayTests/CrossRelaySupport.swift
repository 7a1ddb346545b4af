#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Plexus
import PlexusOverlay
import PlexusProcesses
import PlexusWire
import XCTest

/// Relays started as `plexus relay` processes, joined into one overlay (shared network key,
/// loopback, random free ports, one zone per relay). Stopped (and their files removed) by `stop`.
final class RelayOverlay: Sendable {
    let processes: RelayProcesses
    let relays: [String: RelaySpec]
    /// Node ID of each relay, by relay name.
    let nodes: [String: String]
    let key: String

    /// Starts relays named `names`; each joins the ones started before it. Waits (bounded) until
    /// every relay sees all of them alive.
    init(_ names: [String], prefix: String = "plexus-xrelay") throws {
        let processes = try RelayProcesses(prefix: prefix)
        self.processes = processes
        key = processes.path("network.key")
        guard try processes.run(["keygen", "--out", key]).status == 0 else { throw Failure("keygen failed") }
        var started: [RelaySpec] = []
        var relays: [String: RelaySpec] = [:]
        for name in names {
            let relay = RelaySpec(name: name)
            try processes.startRelay(relay, key: key, join: started)
            started.append(relay)
            relays[name] = relay
        }
        self.relays = relays
        guard let nodes = processes.waitForOverlay(started, timeout: 20) else {
            let logs = names.map { "\($0):\n\(processes.log($0))" }.joined(separator: "\n")
            processes.cleanUp()
            throw Failure("relays did not converge within 20 s; logs:\n\(logs)")
        }
        self.nodes = nodes
    }

    func port(_ relay: String) -> Int { relays[relay]!.clientPort }
    func node(_ relay: String) -> String { nodes[relay]! }

    func connect(_ relay: String) async throws -> Connection {
        try await Connection.connect(port: port(relay))
    }

    func register(_ cluster: String, on relay: String, handler: some ServiceHandler, limits: ServiceLimits = .init()) async throws -> Connection {
        try await Connection.register(cluster: cluster, handler: handler, limits: limits, port: port(relay))
    }

    /// Waits (bounded, polling `plexus status`) until relay `at` sees a member of `cluster` (or a
    /// subscriber of `topic`) on every relay in `on`.
    func waitUntilVisible(cluster: String? = nil, topic: String? = nil, on: [String], at: String,
                          timeout: Duration = .seconds(15), file: StaticString = #filePath, line: UInt = #line) async {
        let nodes = Set(on.map { node($0) }), relay = relays[at]!, processes = processes
        let seen = await eventually(within: timeout, every: .milliseconds(100)) {
            processes.isVisible(cluster: cluster, topic: topic, on: nodes, at: relay)
        }
        XCTAssertTrue(seen, "\(cluster ?? topic ?? "?") on \(on) not visible at \(at) within \(timeout): "
                      + "\(processes.remoteMembers(seenBy: relay).map { ($0.node.prefix(8), $0.clusters.map(\.name), $0.topics) })",
                      file: file, line: line)
    }

    /// VmRSS and VmHWM of a relay; throws (with its log) if it is not running.
    func memory(_ relay: String) throws -> (rss: Int, peak: Int) {
        guard let memory = processes.memory(relay) else { throw Failure("relay \(relay) is not running:\n\(processes.log(relay))") }
        return memory
    }

    func stop() { processes.cleanUp() }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A name no earlier test used, so directory records left behind by other tests never interfere.
func unique(_ base: String) -> String { "\(base)-\(UInt32.random(in: 0...UInt32.max))" }

/// Polls `condition` (every `every`, at most `within`) until it holds; returns whether it held.
func eventually(within: Duration, every: Duration = .milliseconds(5), _ condition: @Sendable () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + within
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: every)
    }
    return condition()
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// A service that echoes requests and records what it handles; `hold` makes requests wait for
/// `release()`; requests starting with "fault:" fail with the rest as the fault text.
final class Member: ServiceHandler {
    private struct State {
        var requests = 0
        var broadcasts: [String] = []
        var held = 0
        var released = false
        var tunnels = 0
        var drops: [String] = []
    }
    private let state = NIOLockedValueBox(State())
    let hold: Bool
    let name: String

    init(_ name: String = "", hold: Bool = false) {
        self.name = name
        self.hold = hold
    }

    var requests: Int { state.withLockedValue { $0.requests } }
    var held: Int { state.withLockedValue { $0.held } }
    var broadcasts: [String] { state.withLockedValue { $0.broadcasts } }
    var tunnels: Int { state.withLockedValue { $0.tunnels } }
    var drops: [String] { state.withLockedValue { $0.drops } }
    func release() { state.withLockedValue { $0.released = true } }

    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer {
        state.withLockedValue { $0.requests += 1 }
        let text = String(buffer: request)
        if text.hasPrefix("fault:") { throw ServiceFault(String(text.dropFirst("fault:".count))) }
        if hold || text == "hang" {
            state.withLockedValue { $0.held += 1 }
            // Bounded: at most 60 s, or until released.
            _ = await eventually(within: .seconds(60), every: .milliseconds(20)) { self.state.withLockedValue { $0.released } }
        }
        return ByteBuffer(string: name.isEmpty ? text : "\(name):\(text)")
    }

    func handleBroadcast(_ message: ByteBuffer) async {
        state.withLockedValue { $0.broadcasts.append(String(buffer: message)) }
    }

    /// Tunnels: "echo" (every message back) until the initiator closes.
    func handleTunnel(_ tunnel: Tunnel) async {
        state.withLockedValue { $0.tunnels += 1 }
        while let message = try? await tunnel.receive() {
            do { try await tunnel.send(message, timeout: .seconds(60)) } catch { break }
        }
        try? await tunnel.close()
    }

    func handleDrop(reason: String) async {
        state.withLockedValue { $0.drops.append(reason) }
    }
}

/// Tunnel acceptor that compares each message with `expected` and answers "<bytes> <equal>".
struct Verifier: ServiceHandler {
    let expected: ByteBuffer
    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer { request }
    func handleTunnel(_ tunnel: Tunnel) async {
        while let message = try? await tunnel.receive(timeout: .seconds(120)) {
            let verdict = "\(message.readableBytes) \(message == expected)"
            do { try await tunnel.send(ByteBuffer(string: verdict), timeout: .seconds(10)) } catch { break }
        }
        try? await tunnel.close()
    }
}

/// A v1 client on a raw blocking socket that completes the handshake, subscribes, and then
/// never reads again: the relay's queue toward it fills and its socket buffers stay full.
final class StalledSubscriber {
    private let fd: Int32

    init(port: Int, topic: String, receiveBuffer: Int32 = 4096) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket failed") }
        var size = receiveBuffer
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopbackAddress(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { close(fd); throw Failure("connect to \(port) failed") }
        try write(.initiate(version: ByteBuffer(string: WireConstants.protocolVersion), cluster: ByteBuffer()))
        var received = ByteBuffer()
        var chunk = [UInt8](repeating: 0, count: 256)
        while true {
            if case .accept? = try? RelayPacket.decode(from: &received) { break }
            let n = read(fd, &chunk, chunk.count)
            guard n > 0 else { close(fd); throw Failure("no ACCEPT from the relay") }
            received.writeBytes(chunk[0..<n])
        }
        try write(.subscribe(topic: ByteBuffer(string: topic)))
    }

    private func write(_ packet: ClientPacket) throws {
        var buffer = ByteBuffer()
        buffer.writeClientPacket(packet)
        let bytes = Array(buffer.readableBytesView)
        guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw Failure("send failed") }
    }

    deinit { close(fd) }
}
