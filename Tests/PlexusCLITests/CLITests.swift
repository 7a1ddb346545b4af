import Foundation
import PlexusProcesses
import XCTest

/// The `plexus` tool as a person uses it: a relay process and the client commands against it.
final class CLITests: XCTestCase {
    private var relay: ChildProcess?
    private var children: [ChildProcess] = []
    private var port = 0

    override func setUp() async throws {
        port = freePort()
        let relay = try ChildProcess(["relay", "--dev", "--port", "\(port)", "--http", "127.0.0.1:\(freePort())",
                                      "--log-level", "warning"])
        self.relay = relay
        let ready = await eventually {
            guard relay.process.isRunning else { return false }
            return (try? await runPlexus(["publish", "cli-test-probe", "x", "--port", "\(port)"], timeout: .seconds(5)).status) == 0
        }
        XCTAssertTrue(ready, "relay did not come up: \(relay.standardError)")
    }

    override func tearDown() async throws {
        for child in children { child.signal(SIGKILL) }
        relay?.signal(SIGKILL)
    }

    private func start(_ arguments: [String]) throws -> ChildProcess {
        let child = try ChildProcess(arguments + ["--port", "\(port)"])
        children.append(child)
        return child
    }

    /// Waits until `cluster` answers requests (the service registered).
    private func waitForService(_ cluster: String) async -> Bool {
        await eventually {
            (try? await runPlexus(["request", cluster, "ping", "--timeout", "200", "--port", "\(port)"]).status) != 3
        }
    }

    func testServeEchoAndRequest() async throws {
        _ = try start(["serve", "echo", "--echo"])
        let serviceReady = await waitForService("echo")
        XCTAssertTrue(serviceReady)
        let result = try await runPlexus(["request", "echo", "hello", "--port", "\(port)"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "hello\n")
    }

    func testServeExecAnswersWithTheCommandsOutput() async throws {
        _ = try start(["serve", "upper", "--exec", "tr a-z A-Z"])
        let serviceReady = await waitForService("upper")
        XCTAssertTrue(serviceReady)
        let result = try await runPlexus(["request", "upper", "make me loud", "--port", "\(port)"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "MAKE ME LOUD\n")
    }

    func testFailingCommandIsARemoteFault() async throws {
        _ = try start(["serve", "failing", "--exec", "echo boom >&2; exit 3"])
        let serviceReady = await waitForService("failing")
        XCTAssertTrue(serviceReady)
        let result = try await runPlexus(["request", "failing", "x", "--port", "\(port)"])
        XCTAssertEqual(result.status, 4)
        XCTAssertTrue(result.stderr.contains("remote fault: boom"), result.stderr)
    }

    func testRequestWithoutMemberFailsAtOnceWithTheReason() async throws {
        let result = try await runPlexus(["request", "nobody", "x", "--timeout", "60000", "--port", "\(port)"])
        XCTAssertEqual(result.status, 5)
        XCTAssertTrue(result.stderr.contains(#"no members: no service is registered in cluster "nobody" on any relay"#), result.stderr)
    }

    func testSubscribePrintsPublishedEventsAndStopsOnSIGINT() async throws {
        let subscriber = try start(["subscribe", "news"])
        // Publish until the subscription is live, then one marked event.
        let live = await eventually {
            _ = try? await runPlexus(["publish", "news", "warm-up", "--port", "\(port)"])
            return subscriber.standardOutput.contains("warm-up")
        }
        XCTAssertTrue(live, subscriber.standardError)
        let published = try await runPlexus(["publish", "news", "extra!", "--port", "\(port)"])
        XCTAssertEqual(published.status, 0)
        let eventPrinted = await eventually { subscriber.standardOutput.contains("extra!\n") }
        XCTAssertTrue(eventPrinted)
        subscriber.signal(SIGINT)
        let exitStatus = await subscriber.waitForExit()
        XCTAssertEqual(exitStatus, 0)
    }

    func testBroadcastReachesAService() async throws {
        let service = try start(["serve", "bc", "--echo", "--print-broadcasts"])
        let serviceReady = await waitForService("bc")
        XCTAssertTrue(serviceReady)
        let result = try await runPlexus(["broadcast", "bc", "to every member", "--port", "\(port)"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let broadcastPrinted = await eventually { service.standardOutput.contains("to every member\n") }
        XCTAssertTrue(broadcastPrinted)
        service.signal(SIGTERM)
        let exitStatus = await service.waitForExit()
        XCTAssertEqual(exitStatus, 0)
    }

    func testRelayShutsDownGracefullyOnSIGTERM() async throws {
        let relay = try XCTUnwrap(relay)
        relay.signal(SIGTERM)
        let exit3 = await relay.waitForExit()
        XCTAssertEqual(exit3, 0, relay.standardError)
        let result = try await runPlexus(["publish", "t", "x", "--port", "\(port)"])
        XCTAssertNotEqual(result.status, 0, "nothing listens after shutdown")
    }

    func testInvalidPortIsRefused() async throws {
        let result = try await runPlexus(["relay", "--port", "70000"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("--port must be between 0 and 65535"), result.stderr)
    }

    func testKeygenWritesAPrivateKeyAndRefusesToOverwrite() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plexus-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyPath = directory.appendingPathComponent("network.key").path
        let first = try await runPlexus(["keygen", "--out", keyPath])
        XCTAssertEqual(first.status, 0, first.stderr)
        let attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let line = try String(contentsOfFile: keyPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(Data(base64Encoded: line)?.count, 32)
        let second = try await runPlexus(["keygen", "--out", keyPath])
        XCTAssertNotEqual(second.status, 0)
        XCTAssertTrue(second.stderr.contains("--force"), second.stderr)
    }
}
