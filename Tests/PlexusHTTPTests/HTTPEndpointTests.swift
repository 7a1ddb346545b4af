import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PlexusHTTP
import PlexusTelemetry
import XCTest

/// The endpoint on a real loopback socket (port 0: the kernel picks a free one).
final class HTTPEndpointTests: XCTestCase {
    struct Failing: Error, CustomStringConvertible { var description: String { "overlay not started" } }

    static func source(health: HealthState = HealthState(serving: true, ready: true), failStatus: Bool = false) -> StatusSource {
        StatusSource(
            health: { health },
            status: {
                if failStatus { throw Failing() }
                return JSONDocument(bytes: Array("{\"node\":\"abc\"}\n".utf8))
            },
            members: { JSONDocument(bytes: Array("{\"members\":[]}\n".utf8)) },
            connections: { JSONDocument(bytes: Array("{\"summary\":{}}\n".utf8)) },
            metrics: {
                var sample = RelayMetricsSample()
                sample.clientsConnected = 3
                sample.membersByState = ["alive": 2]
                return sample
            })
    }

    private func withEndpoint(_ source: StatusSource, _ body: (Int) async throws -> Void) async throws {
        let endpoint = try await HTTPEndpoint.start(host: "127.0.0.1", port: 0, source: source, access: .open, logger: Logger(label: "test"))
        do {
            try await body(endpoint.port)
        } catch {
            await endpoint.close()
            throw error
        }
        await endpoint.close()
    }

    func testEveryEndpointAnswers() async throws {
        try await withEndpoint(Self.source()) { port in
            func get(_ path: String) async throws -> HTTPClientResponse {
                try await HTTPClient.get(host: "127.0.0.1", port: port, path: path)
            }
            let health = try await get("/healthz")
            XCTAssertEqual(health.status, 200)
            XCTAssertEqual(health.text, "{\"status\":\"ok\"}\n")
            let ready = try await get("/readyz")
            XCTAssertEqual(ready.status, 200)
            let status = try await get("/v1/status")
            XCTAssertEqual(status.text, "{\"node\":\"abc\"}\n")
            let members = try await get("/v1/members")
            XCTAssertEqual(members.text, "{\"members\":[]}\n")
            let connections = try await get("/v1/connections")
            XCTAssertEqual(connections.status, 200)
            let metrics = try await get("/metrics")
            XCTAssertEqual(metrics.status, 200)
            XCTAssertTrue(metrics.text.contains("plexus_clients_connected 3"), metrics.text)
            XCTAssertTrue(metrics.text.contains("plexus_members{state=\"alive\"} 2"), metrics.text)
            let dashboard = try await get("/")
            XCTAssertEqual(dashboard.status, 200)
            XCTAssertTrue(dashboard.text.contains("<html") || dashboard.text.contains("<!doctype"), dashboard.text)
            let history = try await get("/v1/history")
            XCTAssertEqual(history.status, 200)
            XCTAssertTrue(history.text.hasPrefix("{\"points\":["), history.text)
            let missing = try await get("/nope")
            XCTAssertEqual(missing.status, 404)
            XCTAssertTrue(missing.text.contains("/healthz"), missing.text)
        }
    }

    func testNotReadyIs503WithAReason() async throws {
        let health = HealthState.evaluate(serving: true, draining: true, development: false, expectsPeers: true, joined: true)
        try await withEndpoint(Self.source(health: health)) { port in
            let ready = try await HTTPClient.get(host: "127.0.0.1", port: port, path: "/readyz")
            XCTAssertEqual(ready.status, 503)
            let object = try JSONSerialization.jsonObject(with: Data(ready.body)) as? [String: Any]
            XCTAssertEqual(object?["ready"] as? Bool, false)
            XCTAssertEqual(object?["reason"] as? String, HealthState.drainingReason)
            let health = try await HTTPClient.get(host: "127.0.0.1", port: port, path: "/healthz")
            XCTAssertEqual(health.status, 200, "a draining relay still serves its clients")
        }
    }

    func testAFailingProviderIs503AndTheEndpointKeepsServing() async throws {
        try await withEndpoint(Self.source(failStatus: true)) { port in
            let status = try await HTTPClient.get(host: "127.0.0.1", port: port, path: "/v1/status")
            XCTAssertEqual(status.status, 503)
            XCTAssertTrue(status.text.contains("overlay not started"), status.text)
            let health = try await HTTPClient.get(host: "127.0.0.1", port: port, path: "/healthz")
            XCTAssertEqual(health.status, 200)
        }
    }

    func testWritesAndLargeBodiesAreRefused() async throws {
        try await withEndpoint(Self.source()) { port in
            let post = try await HTTPClient.request(.POST, host: "127.0.0.1", port: port, path: "/healthz", body: Array("x".utf8))
            XCTAssertEqual(post.status, 405)
            let large = try await HTTPClient.request(.GET, host: "127.0.0.1", port: port, path: "/healthz",
                                                     body: Array(repeating: 0x61, count: 64 * 1024))
            XCTAssertEqual(large.status, 413)
            let health = try await HTTPClient.get(host: "127.0.0.1", port: port, path: "/healthz")
            XCTAssertEqual(health.status, 200)
        }
    }

    func testMalformedRequestGets400AndOnlyThatConnectionCloses() async throws {
        try await withEndpoint(Self.source()) { port in
            let reply = try RawSocket.exchange(port: port, Array("GARBAGE\r\n\r\n".utf8))
            XCTAssertTrue(reply.hasPrefix("HTTP/1.1 400"), reply)
            let health = try await HTTPClient.get(host: "127.0.0.1", port: port, path: "/healthz")
            XCTAssertEqual(health.status, 200)
        }
    }

    func testCurlReadsEveryEndpoint() async throws {
        let curl = "/usr/bin/curl"
        guard FileManager.default.isExecutableFile(atPath: curl) else { throw XCTSkip("curl is not installed") }
        try await withEndpoint(Self.source()) { port in
            for path in ["/healthz", "/readyz", "/metrics", "/v1/status", "/v1/members", "/v1/connections", "/"] {
                let (status, output) = try runProcess(curl, ["-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}",
                                                             "http://127.0.0.1:\(port)\(path)"])
                XCTAssertEqual(status, 0)
                XCTAssertEqual(output, "200", path)
            }
        }
    }

    func testConnectionsAreBounded() async throws {
        var limits = HTTPEndpointLimits()
        limits.maximumConnections = 4
        let endpoint = try await HTTPEndpoint.start(host: "127.0.0.1", port: 0, source: Self.source(), access: .open, limits: limits,
                                                    logger: Logger(label: "test"))
        var held: [Int32] = []
        defer { for descriptor in held { close(descriptor) } }
        for _ in 0..<4 {
            let descriptor = try RawSocket.open(port: endpoint.port)
            held.append(descriptor)
            // One keep-alive request answered: the endpoint has accepted and counted it.
            let request = Array("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n".utf8)
            _ = request.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
            var buffer = [UInt8](repeating: 0, count: 1024)
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            XCTAssertTrue(count > 0 && String(decoding: buffer[0..<count], as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        }
        let fifth = try RawSocket.open(port: endpoint.port)
        held.append(fifth)
        let closedAtOnce = try RawSocket.readUntilClosed(fifth)
        XCTAssertEqual(closedAtOnce, 0, "the fifth connection is closed without a byte")
        XCTAssertEqual(endpoint.refusedConnections, 1)
        close(held.removeFirst())
        var answered = false
        for _ in 0..<100 where !answered { // polled every 20 ms, at most 2 s: the slot frees when the endpoint sees the close
            answered = (try? await HTTPClient.get(host: "127.0.0.1", port: endpoint.port, path: "/healthz").status) == 200
            if !answered { try? await Task.sleep(for: .milliseconds(20)) }
        }
        XCTAssertTrue(answered, "a freed slot serves again")
        await endpoint.close()
    }

    func testBindingATakenPortFails() async throws {
        try await withEndpoint(Self.source()) { port in
            do {
                let second = try await HTTPEndpoint.start(host: "127.0.0.1", port: port, source: Self.source(), access: .open, logger: Logger(label: "t"))
                await second.close()
                XCTFail("a second endpoint bound the same port")
            } catch let error as IOError {
                XCTAssertEqual(error.errnoCode, EADDRINUSE)
            }
        }
    }
}

/// Runs `path` with `arguments` (bounded by the tool's own --max-time) and returns its exit
/// status and standard output.
func runProcess(_ path: String, _ arguments: [String]) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A blocking loopback TCP exchange with a 5 s receive timeout, for bytes no HTTP client sends.
enum RawSocket {
    /// A connected loopback socket with a 5 s receive timeout.
    static func open(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        return fd
    }

    /// Bytes read until the peer closes (at most 5 s, the receive timeout, then -1).
    static func readUntilClosed(_ fd: Int32) throws -> Int {
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 1024)
        for _ in 0..<64 {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return total }
            if count < 0 { return -1 }
            total += count
        }
        return total
    }

    static func exchange(port: Int, _ bytes: [UInt8]) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<64 { // bounded: the server closes after its 400
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }
}
