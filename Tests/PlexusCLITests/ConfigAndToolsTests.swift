import Foundation
import PlexusProcesses
import XCTest

/// `--config` and `PLEXUS_*` (flag > environment > file > default), `--log-format json`,
/// `--version` and `plexus tunnel`.
final class ConfigAndToolsTests: XCTestCase {
    private var children: [ChildProcess] = []
    private var directory: URL!

    override func setUp() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("plexus-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        for child in children { child.signal(SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    private func start(_ arguments: [String], environment: [String: String] = [:]) throws -> ChildProcess {
        let child = try ChildProcess(arguments, environment: environment)
        children.append(child)
        return child
    }

    private func write(_ name: String, _ text: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func isReady(_ http: Int) async -> Bool {
        (try? await runPlexus(["check", "--http", "127.0.0.1:\(http)"], timeout: .seconds(5)).status) == 0
    }

    func testVersion() async throws {
        let result = try await runPlexus(["--version"])
        XCTAssertEqual(result.status, 0)
        XCTAssertFalse(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    func testFlagBeatsEnvironmentBeatsFileBeatsDefault() async throws {
        let filePort = freePort(), fileHTTP = freePort(), environmentHTTP = freePort(), flagHTTP = freePort()
        let config = try write("relay.json", """
            {"dev": true, "port": \(filePort), "http": "127.0.0.1:\(fileHTTP)", "log-level": "warning", "zone": "from-file"}
            """)
        // File for port, dev, zone; environment beats the file's http.
        let first = try start(["relay", "--config", config], environment: ["PLEXUS_HTTP": "127.0.0.1:\(environmentHTTP)"])
        let environmentWins = await eventually { await isReady(environmentHTTP) }
        XCTAssertTrue(environmentWins, first.standardError)
        let fileHTTPUsed = await isReady(fileHTTP)
        XCTAssertFalse(fileHTTPUsed)
        let published = try await runPlexus(["publish", "t", "x", "--port", "\(filePort)"])
        XCTAssertEqual(published.status, 0, "the file's port: \(published.stderr)")
        let status = try await runPlexus(["status", "--json", "--http", "127.0.0.1:\(environmentHTTP)"])
        XCTAssertTrue(status.stdout.contains("\"zone\":\"from-file\""), status.stdout)
        first.signal(SIGKILL)

        // The flag beats the environment; PLEXUS_CONFIG names the file.
        let second = try start(["relay", "--http", "127.0.0.1:\(flagHTTP)", "--port", "\(freePort())"],
                               environment: ["PLEXUS_CONFIG": config, "PLEXUS_HTTP": "127.0.0.1:\(environmentHTTP)"])
        let flagWins = await eventually { await isReady(flagHTTP) }
        XCTAssertTrue(flagWins, second.standardError)
    }

    func testUnknownKeysAndBadValuesAreErrorsThatNameThem() async throws {
        let typo = try write("typo.json", #"{"dev": true, "prot": 55555}"#)
        let unknown = try await runPlexus(["relay", "--config", typo])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("unknown key 'prot'"), unknown.stderr)

        let wrongType = try write("type.json", #"{"dev": true, "port": "55555"}"#)
        let typed = try await runPlexus(["relay", "--config", wrongType])
        XCTAssertNotEqual(typed.status, 0)
        XCTAssertTrue(typed.stderr.contains("key 'port': expected an integer"), typed.stderr)

        let environment = try await runPlexus(["relay", "--dev"], environment: ["PLEXUS_PORT": "eighty"])
        XCTAssertNotEqual(environment.status, 0)
        XCTAssertTrue(environment.stderr.contains("environment PLEXUS_PORT=eighty: expected an integer"), environment.stderr)

        let range = try await runPlexus(["relay", "--dev"], environment: ["PLEXUS_PORT": "70000"])
        XCTAssertTrue(range.stderr.contains("--port (from environment PLEXUS_PORT) must be between 0 and 65535"), range.stderr)

        let missing = try await runPlexus(["relay", "--config", directory.appendingPathComponent("absent.json").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("cannot read the file"), missing.stderr)
    }

    func testJSONLogs() async throws {
        let http = freePort()
        let relay = try start(["relay", "--dev", "--port", "\(freePort())", "--http", "127.0.0.1:\(http)", "--log-format", "json"])
        let logged = await eventually { relay.standardError.contains("HTTP endpoint listening") }
        XCTAssertTrue(logged, relay.standardError)
        let lines = relay.standardError.split(separator: "\n")
        XCTAssertFalse(lines.isEmpty)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            XCTAssertNotNil(object?["time"] as? String, String(line))
            XCTAssertNotNil(object?["level"] as? String, String(line))
            XCTAssertNotNil(object?["message"] as? String, String(line))
        }
        let endpoint = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .first { ($0["message"] as? String) == "HTTP endpoint listening" }
        XCTAssertEqual((endpoint?["metadata"] as? [String: Any])?["address"] as? String, "127.0.0.1:\(http)")
    }

    func testTunnelCarriesStandardInputBothWays() async throws {
        let port = freePort()
        let relay = try start(["relay", "--dev", "--port", "\(port)", "--http", "off", "--log-level", "warning"])
        let up = await eventually { (try? await runPlexus(["publish", "probe", "x", "--port", "\(port)"], timeout: .seconds(5)).status) == 0 }
        XCTAssertTrue(up, relay.standardError)
        let service = try start(["serve", "echo", "--echo", "--port", "\(port)"])
        let serving = await eventually {
            (try? await runPlexus(["request", "echo", "ping", "--timeout", "200", "--port", "\(port)"]).status) == 0
        }
        XCTAssertTrue(serving, service.standardError)
        let input = try write("input.txt", "hello through a tunnel\nsecond line\n")
        let plexus = ChildProcess.plexusBinary.path
        let shell = try ChildProcess.shell("\(plexus) tunnel echo --port \(port) --quit-after 500 < \(input)")
        XCTAssertEqual(shell.status, 0, shell.output)
        XCTAssertEqual(shell.output, "hello through a tunnel\nsecond line\n")

        let nobody = try await runPlexus(["tunnel", "nobody", "--timeout", "200", "--port", "\(port)"])
        XCTAssertEqual(nobody.status, 3)
        XCTAssertTrue(nobody.stderr.contains("plexus tunnel: timed out"), nobody.stderr)
    }
}

extension ChildProcess {
    /// Runs `/bin/sh -c command`, bounded by `timeout` seconds, and returns its status and output.
    static func shell(_ command: String, timeout: Double = 20) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "timeout \(Int(timeout)) " + command]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
