@testable import PlexusCLI
import Foundation
import PlexusProcesses
import XCTest

/// Defect 9 (local access): the relay's status and metrics are readable only with the token it
/// writes to a file only its user can read; `plexus status` reads that file; a token file that
/// others can read stops the relay from starting; `--http-auth off` opens the endpoint.
final class HTTPTokenTests: XCTestCase {
    private var children: [ChildProcess] = []
    private var directory: URL!

    override func setUp() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("plexus-token-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        for child in children { child.signal(SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    private func relay(_ arguments: [String]) throws -> ChildProcess {
        let child = try ChildProcess(["relay", "--dev", "--log-level", "warning", "--port", "\(freePort())"] + arguments)
        children.append(child)
        return child
    }

    private func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    func testStatusReadsTheTokenFileAndOthersAreRefused() async throws {
        let http = freePort()
        let data = directory.appendingPathComponent("data").path
        let relay = try relay(["--data-dir", data, "--http", "127.0.0.1:\(http)"])
        let tokenFile = data + "/http.token"
        let written = await eventually { FileManager.default.fileExists(atPath: tokenFile) }
        XCTAssertTrue(written, relay.standardError)
        XCTAssertEqual(mode(tokenFile), 0o600, "the token file is readable by its owner only")
        let token = try XCTUnwrap(try HTTPAccessToken.read(tokenFile))
        XCTAssertEqual(token.text.count, 64)

        let status = try await runPlexus(["status", "--json", "--http", "127.0.0.1:\(http)", "--data-dir", data])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("\"members\""), status.stdout)
        let byFile = try await runPlexus(["status", "--http", "127.0.0.1:\(http)", "--http-token-file", tokenFile])
        XCTAssertEqual(byFile.status, 0, byFile.stderr)
        XCTAssertTrue(byFile.stdout.contains("(self)"), byFile.stdout)
        let byEnvironment = try await runPlexus(["status", "--json", "--http", "127.0.0.1:\(http)"],
                                                environment: ["PLEXUS_HTTP_TOKEN_FILE": tokenFile])
        XCTAssertEqual(byEnvironment.status, 0, byEnvironment.stderr)

        // Without the token, or with another one: 401, and the message names the file to pass.
        let missing = directory.appendingPathComponent("absent.token").path
        let without = try await runPlexus(["status", "--http", "127.0.0.1:\(http)", "--http-token-file", missing])
        XCTAssertEqual(without.status, 1)
        XCTAssertTrue(without.stderr.contains("needs the relay's token: no token file at \(missing)"), without.stderr)
        let other = directory.appendingPathComponent("other.token").path
        _ = try HTTPAccessToken.create(at: other)
        let wrong = try await runPlexus(["status", "--http", "127.0.0.1:\(http)", "--http-token-file", other])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("was refused"), wrong.stderr)
        // `plexus check` needs no token: /healthz and /readyz stay open (probes).
        let check = try await runPlexus(["check", "--http", "127.0.0.1:\(http)", "--http-token-file", missing])
        XCTAssertEqual(check.status, 0, check.stderr)

        // A clean stop removes the token file.
        relay.signal(SIGTERM)
        let exit = await relay.waitForExit()
        XCTAssertEqual(exit, 0, relay.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: tokenFile), "the token file outlived the relay")
    }

    func testATokenFileReadableByOthersStopsTheRelayFromStarting() async throws {
        let data = directory.appendingPathComponent("loose").path
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let tokenFile = data + "/http.token"
        XCTAssertTrue(FileManager.default.createFile(atPath: tokenFile, contents: Data("x\n".utf8), attributes: [.posixPermissions: 0o644]))
        let result = try await runPlexus(["relay", "--dev", "--port", "\(freePort())", "--data-dir", data,
                                          "--http", "127.0.0.1:\(freePort())"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("\(tokenFile) is readable or writable by others (mode 644)"), result.stderr)
        XCTAssertEqual(try String(contentsOfFile: tokenFile, encoding: .utf8), "x\n", "the loose file was left alone")
    }

    func testHTTPAuthOffOpensTheEndpoint() async throws {
        let http = freePort()
        let tokenFile = directory.appendingPathComponent("unused.token").path
        let relay = try relay(["--http", "127.0.0.1:\(http)", "--http-auth", "off", "--http-token-file", tokenFile])
        let answered = await eventually {
            (try? await runPlexus(["status", "--json", "--http", "127.0.0.1:\(http)", "--http-token-file", tokenFile]).status) == 0
        }
        XCTAssertTrue(answered, relay.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: tokenFile), "no token is written with --http-auth off")
        let bad = try await runPlexus(["relay", "--dev", "--http-auth", "maybe"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--http-auth: 'maybe' is not token or off"), bad.stderr)
    }

    func testTokensAreRandomHexAndCompareExactly() throws {
        let a = HTTPAccessToken.generate(), b = HTTPAccessToken.generate()
        XCTAssertNotEqual(a.text, b.text)
        XCTAssertTrue(a.text.count == 64 && a.text.allSatisfy(\.isHexDigit))
        XCTAssertTrue(a.matches(a.text))
        XCTAssertFalse(a.matches(b.text))
        XCTAssertFalse(a.matches(String(a.text.dropLast())))
        XCTAssertFalse(a.matches(""))
        let path = directory.appendingPathComponent("t/http.token").path
        let created = try HTTPAccessToken.create(at: path)
        XCTAssertEqual(try HTTPAccessToken.read(path)?.text, created.text)
        XCTAssertEqual(mode(directory.appendingPathComponent("t").path), 0o700, "a missing directory is created for the owner only")
        try Data("not a token\n".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try HTTPAccessToken.read(path))
        XCTAssertNil(try HTTPAccessToken.read(path + ".absent"))
        XCTAssertEqual(HTTPAccessToken.defaultPath(dataDirectory: "/var/lib/plexus", httpPort: 55580), "/var/lib/plexus/http.token")
        XCTAssertTrue(HTTPAccessToken.defaultPath(dataDirectory: nil, httpPort: 55580).hasSuffix("/.plexus/http-55580.token"))
    }
}
