import Foundation
import PlexusProcesses
import XCTest

/// The relay's HTTP endpoint through the `plexus` tool: `status` and `check` over HTTP, readiness
/// while joining and draining, and binding errors that name the flag.
final class HTTPCommandTests: XCTestCase {
    private var children: [ChildProcess] = []

    override func tearDown() async throws {
        for child in children { child.signal(SIGKILL) }
    }

    private func relay(_ arguments: [String]) throws -> ChildProcess {
        let child = try ChildProcess(["relay", "--log-level", "warning"] + arguments)
        children.append(child)
        return child
    }

    private func check(_ http: Int) async throws -> (status: Int32?, stdout: String, stderr: String) {
        try await runPlexus(["check", "--http", "127.0.0.1:\(http)"], timeout: .seconds(10))
    }

    func testCheckAndStatusOverHTTP() async throws {
        let http = freePort()
        let relay = try relay(["--dev", "--port", "\(freePort())", "--http", "127.0.0.1:\(http)"])
        let ready = await eventually { (try? await check(http).status) == 0 }
        XCTAssertTrue(ready, relay.standardError)
        let checked = try await check(http)
        XCTAssertEqual(checked.stdout, "ok: healthy and ready\n")

        let json = try await runPlexus(["status", "--json", "--http", "127.0.0.1:\(http)"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["ready"] as? Bool, true)
        XCTAssertNotNil(object["members"] as? [Any])
        XCTAssertNotNil(object["relay"] as? [String: Any], "the relay's own figures are in /v1/status")
        XCTAssertEqual((object["version"] as? String)?.isEmpty, false)

        let table = try await runPlexus(["status", "--http", "127.0.0.1:\(http)"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("(self)"), table.stdout)
        XCTAssertTrue(table.stdout.contains("ready"), table.stdout)

        // A real relay's /metrics through curl, and promtool where installed.
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else { return }
        // The relay's token (no --data-dir: ~/.plexus/http-PORT.token), as Prometheus's bearer_token_file would send it.
        let tokenFile = ChildProcess.home + "/.plexus/http-\(http).token"
        let curl = "curl -sS --max-time 5 -H \"Authorization: Bearer $(cat \(tokenFile))\""
        let refused = try Self.shell("curl -sS --max-time 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:\(http)/metrics")
        XCTAssertEqual(refused.output, "401", "/metrics without the token")
        let metrics = try Self.shell("\(curl) http://127.0.0.1:\(http)/metrics")
        XCTAssertEqual(metrics.status, 0)
        for name in ["plexus_clients_connected", "plexus_members{state=\"alive\"} 1", "process_resident_memory_bytes",
                     "process_cpu_seconds_total", "plexus_gossip_datagrams_dropped_total{reason=\"authentication\"}"] {
            XCTAssertTrue(metrics.output.contains(name), "\(name) missing from /metrics:\n\(metrics.output)")
        }
        for (path, key) in [("/v1/members", "members"), ("/v1/connections", "summary"), ("/v1/history", "points")] {
            let document = try Self.shell("\(curl) http://127.0.0.1:\(http)\(path)")
            let object = try JSONSerialization.jsonObject(with: Data(document.output.utf8)) as? [String: Any]
            XCTAssertNotNil(object?[key], "\(path): \(document.output)")
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") {
            let checked = try Self.shell("\(curl) http://127.0.0.1:\(http)/metrics | /usr/bin/promtool check metrics")
            XCTAssertEqual(checked.status, 0, checked.output)
        } else {
            print("promtool not installed: the relay's /metrics checked by name only here (MetricsExpositionTests parses the format)")
        }
    }

    /// Runs `/bin/sh -c command` (each command here bounds itself with --max-time).
    static func shell(_ command: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command + " 2>&1"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testUnreachableRelay() async throws {
        let port = freePort()
        let checked = try await check(port)
        XCTAssertEqual(checked.status, 2)
        XCTAssertTrue(checked.stderr.contains("cannot reach the relay's HTTP endpoint 127.0.0.1:\(port)"), checked.stderr)
        let status = try await runPlexus(["status", "--http", "127.0.0.1:\(port)"])
        XCTAssertEqual(status.status, 1)
    }

    func testARelayThatCannotJoinIsHealthyButNotReady() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plexus-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("network.key").path
        let keygen = try await runPlexus(["keygen", "--out", key])
        XCTAssertEqual(keygen.status, 0, keygen.stderr)
        let http = freePort()
        // The seed is a free loopback port nobody listens on.
        let relay = try relay(["--key", key, "--port", "\(freePort())", "--peer-port", "\(freePort())",
                               "--peer-host", "127.0.0.1", "--advertise", "127.0.0.1",
                               "--join", "127.0.0.1:\(freePort())", "--http", "127.0.0.1:\(http)"])
        let answered = await eventually { (try? await check(http).status) == 1 }
        XCTAssertTrue(answered, relay.standardError)
        let checked = try await check(http)
        XCTAssertTrue(checked.stderr.contains("not ready (503): not joined"), checked.stderr)
        let health = try await runPlexus(["status", "--json", "--http", "127.0.0.1:\(http)"])
        XCTAssertEqual(health.status, 0, "status still answers while not ready")
    }

    func testDrainingIsReportedWhileTheRelayFinishesPendingRequests() async throws {
        let http = freePort()
        let port = freePort()
        let relay = try relay(["--dev", "--port", "\(port)", "--http", "127.0.0.1:\(http)"])
        let ready = await eventually { (try? await check(http).status) == 0 }
        XCTAssertTrue(ready, relay.standardError)
        // A service that answers after 2 s keeps one request pending, so the relay drains that long.
        let service = try ChildProcess(["serve", "slow", "--exec", "sleep 2; echo late", "--port", "\(port)"])
        children.append(service)
        let registered = await eventually {
            (try? await runPlexus(["status", "--json", "--http", "127.0.0.1:\(http)"]).stdout.contains("\"name\":\"slow\"")) == true
        }
        XCTAssertTrue(registered, service.standardError)
        let requester = try ChildProcess(["request", "slow", "x", "--timeout", "10000", "--port", "\(port)"])
        children.append(requester)
        let pending = await eventually {
            (try? await runPlexus(["status", "--json", "--http", "127.0.0.1:\(http)"]).stdout.contains("\"pendingRequests\":1")) == true
        }
        XCTAssertTrue(pending, "the request never reached the service")
        relay.signal(SIGTERM)
        let drainingSeen = await eventually(timeout: .seconds(5)) {
            guard let checked = try? await check(http) else { return false }
            return checked.status == 1 && checked.stderr.contains("draining")
        }
        XCTAssertTrue(drainingSeen, "/readyz did not report draining")
        let exit = await relay.waitForExit()
        XCTAssertEqual(exit, 0, relay.standardError)
        let answered = await requester.waitForExit()
        XCTAssertEqual(answered, 0, "the pending request was answered during the drain: \(requester.standardError)")
        XCTAssertEqual(requester.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines), "late")
        let after = try await check(http)
        XCTAssertEqual(after.status, 2, "the HTTP endpoint closes last, with the relay")
    }

    func testBindingErrorsNameTheFlagAndThePort() async throws {
        let port = freePort()
        let http = freePort()
        let first = try relay(["--dev", "--port", "\(port)", "--http", "127.0.0.1:\(http)"])
        let ready = await eventually { (try? await check(http).status) == 0 }
        XCTAssertTrue(ready, first.standardError)

        let samePort = try await runPlexus(["relay", "--dev", "--port", "\(port)", "--http", "127.0.0.1:\(freePort())"])
        XCTAssertEqual(samePort.status, 1)
        XCTAssertTrue(samePort.stderr.contains("--port \(port): address already in use; is another relay running? try --port"),
                      samePort.stderr)

        let peerPort = freePort(), peerClientPort = freePort()
        let peer = try relay(["--dev", "--port", "\(peerClientPort)", "--peer-port", "\(peerPort)", "--http", "off"])
        let peerServing = await eventually {
            (try? await runPlexus(["publish", "probe", "x", "--port", "\(peerClientPort)"], timeout: .seconds(5)).status) == 0
        }
        XCTAssertTrue(peerServing, peer.standardError)
        let samePeerPort = try await runPlexus(["relay", "--dev", "--port", "\(freePort())", "--peer-port", "\(peerPort)", "--http", "off"])
        XCTAssertEqual(samePeerPort.status, 1)
        XCTAssertTrue(samePeerPort.stderr.contains("--peer-port \(peerPort) ("), samePeerPort.stderr)
        XCTAssertTrue(samePeerPort.stderr.contains("address already in use; is another relay running? try --peer-port"), samePeerPort.stderr)

        let sameHTTP = try await runPlexus(["relay", "--dev", "--port", "\(freePort())", "--http", "127.0.0.1:\(http)"])
        XCTAssertEqual(sameHTTP.status, 1)
        XCTAssertTrue(sameHTTP.stderr.contains("--http 127.0.0.1:\(http): address already in use"), sameHTTP.stderr)

        let offPort = freePort()
        let off = try relay(["--dev", "--port", "\(offPort)", "--http", "off"])
        let serving = await eventually {
            (try? await runPlexus(["publish", "probe", "x", "--port", "\(offPort)"], timeout: .seconds(5)).status) == 0
        }
        XCTAssertTrue(serving, "--http off runs without an endpoint: \(off.standardError)")
    }

    func testARelayThatBindsOnlyOneLoopbackAddressSaysSo() async throws {
        let port = freePort()
        guard let blocker = IPv6LoopbackListener(port: port) else { throw XCTSkip("::1 is not available here") }
        defer { blocker.close() }
        let relay = try relay(["--dev", "--port", "\(port)", "--http", "127.0.0.1:\(freePort())"])
        let warned = await eventually { relay.standardError.contains("client endpoint listens only on 127.0.0.1:\(port)") }
        XCTAssertTrue(warned, relay.standardError)
        XCTAssertTrue(relay.standardError.contains("binding ::1 port \(port) failed"), relay.standardError)
        let published = try await runPlexus(["publish", "t", "x", "--port", "\(port)"])
        XCTAssertEqual(published.status, 0, "it serves on 127.0.0.1: \(published.stderr)")
    }

    func testBadHTTPAddressIsRefused() async throws {
        let result = try await runPlexus(["relay", "--dev", "--http", "localhost"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("--http 'localhost': expected HOST:PORT or off"), result.stderr)
    }
}

/// A TCP listener on [::1]:port, taking that address from the relay under test.
final class IPv6LoopbackListener {
    private let descriptor: Int32

    init?(port: Int) {
        descriptor = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = in_port_t(UInt16(port).bigEndian)
        address.sin6_addr = in6addr_loopback
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        guard bound == 0, listen(descriptor, 4) == 0 else {
            _ = Glibc.close(descriptor)
            return nil
        }
    }

    func close() { _ = Glibc.close(descriptor) }
}
