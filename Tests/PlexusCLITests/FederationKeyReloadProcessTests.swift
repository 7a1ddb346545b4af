import Foundation
import PlexusProcesses
import XCTest

/// SIGHUP re-reads the federation keyring of a running `plexus relay` gateway
/// (`Docs/federation.md` §2, rotation): the link to another overlay stays up, and a gateway that
/// has only the new key is admitted afterwards.
final class FederationKeyReloadProcessTests: XCTestCase {
    private var children: [ChildProcess] = []
    private var directory: URL!

    override func setUp() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("plexus-federation-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        for child in children { child.signal(SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    private func start(_ arguments: [String]) throws -> ChildProcess {
        let child = try ChildProcess(arguments)
        children.append(child)
        return child
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// The overlays gateway `http`'s links are linked to, from `plexus status --json`.
    private func linkedOverlays(_ http: Int) async -> [String] {
        guard let status = try? await runPlexus(["status", "--json", "--http", "127.0.0.1:\(http)"], timeout: .seconds(5)),
              let object = try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any],
              let federation = object["federation"] as? [String: Any], let links = federation["links"] as? [[String: Any]]
        else { return [] }
        return links.filter { ($0["state"] as? String) == "linked" }.compactMap { $0["overlay"] as? String }.sorted()
    }

    func testSighupRotatesTheFederationKeyWithoutDroppingTheLink() async throws {
        for name in ["old.key", "new.key"] {
            let made = try await runPlexus(["keygen", "--out", path(name)])
            XCTAssertEqual(made.status, 0, made.stderr)
        }
        let gatewayA = freePort(), httpA = freePort(), httpB = freePort(), httpC = freePort()
        let config = path("a.json")
        try Data(#"{"overlay": "a", "gateway-port": \#(gatewayA), "federation-key": "\#(path("old.key"))"}"#.utf8)
            .write(to: URL(fileURLWithPath: config))
        let a = try start(["relay", "--dev", "--port", "\(freePort())", "--http", "127.0.0.1:\(httpA)", "--http-auth", "off",
                           "--config", config])
        _ = try start(["relay", "--dev", "--port", "\(freePort())", "--http", "127.0.0.1:\(httpB)", "--http-auth", "off",
                       "--overlay", "b", "--gateway-port", "\(freePort())", "--federation-key", path("old.key"),
                       "--gateway-join", "127.0.0.1:\(gatewayA)"])
        let linked = await eventually(timeout: .seconds(20)) { await linkedOverlays(httpA) == ["b"] }
        XCTAssertTrue(linked, "a and b link with the old key: \(a.standardError)")

        // Step 2 of a rotation on a, through its config file and SIGHUP.
        try Data(#"{"overlay": "a", "gateway-port": \#(gatewayA), "federation-key": "\#(path("new.key"))", "accept-federation-key": ["\#(path("old.key"))"]}"#.utf8)
            .write(to: URL(fileURLWithPath: config))
        a.signal(SIGHUP)
        let reloaded = await eventually(timeout: .seconds(10)) { a.standardError.contains("federation keys reloaded") }
        XCTAssertTrue(reloaded, a.standardError)

        // A gateway with only the new key is admitted now; the link to b was never dropped.
        _ = try start(["relay", "--dev", "--port", "\(freePort())", "--http", "127.0.0.1:\(httpC)", "--http-auth", "off",
                       "--overlay", "c", "--gateway-port", "\(freePort())", "--federation-key", path("new.key"),
                       "--gateway-join", "127.0.0.1:\(gatewayA)"])
        let admitted = await eventually(timeout: .seconds(20)) { await linkedOverlays(httpA) == ["b", "c"] }
        XCTAssertTrue(admitted, "c (new key only) links after the reload: \(a.standardError)")
        XCTAssertFalse(a.standardError.contains("to overlay b closed"), "the a–b link stayed up: \(a.standardError)")
    }
    /// A gateway relay that also holds cluster keys traps SIGHUP twice (cluster keys and federation
    /// keys, two services): one signal must reload both, and again on the next signal.
    func testOneSighupReloadsBothClusterAndFederationKeysOfAGatewayRelay() async throws {
        for name in ["fed-old.key", "fed-new.key", "billing-old.key", "billing-new.key"] {
            let made = try await runPlexus(["keygen", "--out", path(name)])
            XCTAssertEqual(made.status, 0, made.stderr)
        }
        let gateway = freePort(), http = freePort()
        let config = path("both.json")
        try Data(#"{"overlay": "a", "gateway-port": \#(gateway), "federation-key": "\#(path("fed-old.key"))", "cluster-key": ["billing=\#(path("billing-old.key"))"]}"#.utf8)
            .write(to: URL(fileURLWithPath: config))
        let relay = try start(["relay", "--dev", "--port", "\(freePort())", "--http", "127.0.0.1:\(http)", "--http-auth", "off",
                               "--config", config])
        // Both traps are installed (before that, SIGHUP would be ignored, or end a process without them).
        let up = await eventually(timeout: .seconds(20)) {
            relay.standardError.contains("SIGHUP reloads the cluster keys") && relay.standardError.contains("SIGHUP reloads the federation keys")
        }
        XCTAssertTrue(up, relay.standardError)

        try Data(#"{"overlay": "a", "gateway-port": \#(gateway), "federation-key": "\#(path("fed-new.key"))", "accept-federation-key": ["\#(path("fed-old.key"))"], "cluster-key": ["billing=\#(path("billing-new.key"))"], "accept-cluster-key": ["billing=\#(path("billing-old.key"))"]}"#.utf8)
            .write(to: URL(fileURLWithPath: config))
        func count(_ line: String) -> Int { relay.standardError.components(separatedBy: line).count - 1 }
        for round in 1...2 {
            relay.signal(SIGHUP)
            let both = await eventually(timeout: .seconds(10)) {
                count("federation keys reloaded") == round && count("cluster keys reloaded") == round
            }
            XCTAssertTrue(both, "SIGHUP \(round): both keyrings reloaded once each: \(relay.standardError)")
        }
        XCTAssertFalse(relay.standardError.contains("not reloaded"), relay.standardError)
        XCTAssertTrue(relay.process.isRunning, "the relay survives both reloads")
    }
}
