import Foundation
import PlexusProcesses
import XCTest

/// The files in `Docs/deploy/`: the systemd unit passes `systemd-analyze verify` and the relay
/// speaks sd_notify for its `Type=notify`; the Kubernetes example parses and its probes, peer
/// Service and relay config are what the relay serves and accepts; the config examples contain
/// only keys the relay knows; the container file copies what exists.
final class DeployFilesTests: XCTestCase {
    static let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Docs/deploy")
    private var directory: URL!

    override func setUp() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("plexus-deploy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testSystemdUnitVerifies() throws {
        let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let analyze else { throw XCTSkip("systemd-analyze is not installed: the unit is not verified") }
        let unit = try String(contentsOf: Self.deploy.appendingPathComponent("plexus-relay.service"), encoding: .utf8)
        XCTAssertTrue(unit.contains("\nType=notify\n"))
        // verify checks that ExecStart's binary exists: point it at the one just built.
        let local = directory.appendingPathComponent("plexus-relay.service")
        try unit.replacingOccurrences(of: "/usr/local/bin/plexus", with: ChildProcess.plexusBinary.path)
            .write(to: local, atomically: true, encoding: .utf8)
        let result = try ChildProcess.shell("\(analyze) verify \(local.path) 2>&1")
        XCTAssertEqual(result.status, 0, result.output)
        let complaints = result.output.split(separator: "\n").filter { $0.contains("plexus-relay.service") }
        XCTAssertEqual(complaints, [], "systemd-analyze verify complained about the unit")
    }

    func testRelayNotifiesSystemdWhenReadyAndWhenStopping() async throws {
        let socketPath = directory.appendingPathComponent("notify").path
        let receiver = try DatagramReceiver(path: socketPath)
        defer { receiver.close() }
        let relay = try ChildProcess(["relay", "--dev", "--port", "\(freePort())", "--http", "127.0.0.1:\(freePort())",
                                      "--log-level", "warning"], environment: ["NOTIFY_SOCKET": socketPath])
        defer { relay.signal(SIGKILL) }
        let ready = receiver.receive()
        XCTAssertTrue(ready?.hasPrefix("READY=1\n") == true, "got \(String(describing: ready)); \(relay.standardError)")
        relay.signal(SIGTERM)
        let stopping = receiver.receive()
        XCTAssertTrue(stopping?.hasPrefix("STOPPING=1") == true, "got \(String(describing: stopping))")
        let exit = await relay.waitForExit()
        XCTAssertEqual(exit, 0)
    }

    func testKubernetesExampleParsesAndMatchesTheRelay() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") || FileManager.default.isExecutableFile(atPath: "/usr/local/bin/python3")
            || (try? ChildProcess.shell("command -v python3"))?.status == 0 else {
            throw XCTSkip("python3 is not installed: the Kubernetes YAML is not parsed")
        }
        guard (try ChildProcess.shell("python3 -c 'import yaml'")).status == 0 else {
            throw XCTSkip("python3 has no PyYAML (Debian package python3-yaml): the Kubernetes YAML is not parsed")
        }
        let extracted = directory.appendingPathComponent("relay-from-configmap.json").path
        let script = """
            import json, sys, yaml
            docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
            kinds = sorted(d["kind"] for d in docs)
            assert kinds == ["ConfigMap", "Deployment", "NetworkPolicy", "Secret", "Service"], kinds
            service = next(d for d in docs if d["kind"] == "Service")
            assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
            assert sorted((p["port"], p["protocol"]) for p in service["spec"]["ports"]) == [(55554, "TCP"), (55554, "UDP")]
            pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]
            relay = next(c for c in pod["spec"]["initContainers"] if c["name"] == "plexus-relay")
            assert relay["restartPolicy"] == "Always"
            assert relay["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert relay["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert any(p["containerPort"] == 55580 and p["name"] == relay["readinessProbe"]["httpGet"]["port"] for p in relay["ports"])
            assert pod["metadata"]["labels"]["plexus.io/relay"] == service["spec"]["selector"]["plexus.io/relay"]
            config = json.loads(next(d for d in docs if d["kind"] == "ConfigMap")["data"]["relay.json"])
            assert config["http"].endswith(":55580") and config["peer-port"] == 55554
            json.dump(config, open(sys.argv[2], "w"))
            print("ok", kinds)
            """
        let scriptPath = directory.appendingPathComponent("check.py").path
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let parsed = try ChildProcess.shell("python3 \(scriptPath) \(Self.deploy.appendingPathComponent("kubernetes.yaml").path) \(extracted) 2>&1")
        XCTAssertEqual(parsed.status, 0, parsed.output)
        try assertRelayAcceptsKeys(of: extracted)
    }

    func testConfigExampleHasOnlyKnownKeys() throws {
        try assertRelayAcceptsKeys(of: Self.deploy.appendingPathComponent("relay.json").path)
    }

    func testContainerFileCopiesWhatExists() throws {
        let text = try String(contentsOf: Self.deploy.appendingPathComponent("Containerfile"), encoding: .utf8)
        let root = Self.deploy.deletingLastPathComponent().deletingLastPathComponent()
        let copies = text.split(separator: "\n").filter { $0.hasPrefix("COPY ") && !$0.contains("--from=") }
        XCTAssertFalse(copies.isEmpty)
        for line in copies {
            let source = String(line.split(separator: " ")[1])
            XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent(source).path), "\(line): no \(source)")
        }
        for directory in ["Sources", "Tests"] {
            XCTAssertTrue(copies.contains { $0.contains("COPY \(directory) ") }, "Package.swift needs \(directory)/ to load")
        }
        XCTAssertTrue(text.contains("ENTRYPOINT [\"plexus\"]"))
        XCTAssertTrue(text.contains("plexus\", \"check\""), "the health check uses plexus check")
    }

    /// Runs `plexus relay --config FILE --port 70000`: settings are resolved (an unknown key or a
    /// bad value fails first) and the start stops at the port check, before any socket or lookup.
    private func assertRelayAcceptsKeys(of config: String) throws {
        let result = try ChildProcess.shell("\(ChildProcess.plexusBinary.path) relay --config \(config) --port 70000 2>&1")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.output.contains("--port must be between 0 and 65535"), "\(config): \(result.output)")
    }
}

/// A unix datagram socket bound at a path, standing in for systemd's notification socket.
final class DatagramReceiver {
    private let descriptor: Int32

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EIO) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1))
            }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
    }

    /// The next datagram as text, or nil after the 10 s receive timeout.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
    }

    func close() { _ = Glibc.close(descriptor) }
}
