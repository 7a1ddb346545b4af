import Foundation
import PlexusHTTP
import PlexusProcesses
import XCTest

/// `GET /v1/connections` lists every client connection with what it takes part in.
final class ConnectionsEndpointTests: XCTestCase {
    private var children: [ChildProcess] = []

    override func tearDown() async throws {
        for child in children { child.signal(SIGKILL) }
    }

    private func start(_ arguments: [String]) throws -> ChildProcess {
        let child = try ChildProcess(arguments)
        children.append(child)
        return child
    }

    func testConnectionsListMembersAndSubscribersWithTheirCounts() async throws {
        let http = freePort(), port = freePort()
        let relay = try start(["relay", "--log-level", "warning", "--dev", "--port", "\(port)", "--http", "127.0.0.1:\(http)",
                                   "--http-auth", "off"])
        let ready = await eventually { (try? await runPlexus(["check", "--http", "127.0.0.1:\(http)"]).status) == 0 }
        XCTAssertTrue(ready, relay.standardError)
        _ = try start(["serve", "echo", "--echo", "--port", "\(port)"])
        _ = try start(["subscribe", "news", "--port", "\(port)"])

        var last: [[String: Any]] = []
        let listed = await eventually {
            guard let response = try? await HTTPClient.get(host: "127.0.0.1", port: http, path: "/v1/connections"),
                  let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
                  let connections = object["connections"] as? [[String: Any]] else { return false }
            last = connections
            return connections.contains { $0["cluster"] as? String == "echo" }
                && connections.contains { ($0["subscriptions"] as? [String]) == ["news"] }
        }
        XCTAssertTrue(listed, "\(last)")
        let member = try XCTUnwrap(last.first { $0["cluster"] as? String == "echo" })
        XCTAssertEqual(member["kind"] as? String, "member")
        XCTAssertEqual((member["remoteAddress"] as? String)?.hasPrefix("127.0.0.1:"), true)
        XCTAssertGreaterThanOrEqual(member["messagesIn"] as? Int ?? 0, 1, "its INIT at least")
        XCTAssertGreaterThanOrEqual(member["messagesOut"] as? Int ?? 0, 1, "the relay's INIT answer at least")
        let subscriber = try XCTUnwrap(last.first { ($0["subscriptions"] as? [String]) == ["news"] })
        XCTAssertEqual(subscriber["kind"] as? String, "client")
        XCTAssertEqual(subscriber["subscriptionCount"] as? Int, 1)
    }
}
