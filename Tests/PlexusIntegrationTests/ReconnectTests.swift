#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Plexus
import PlexusProcesses
import PlexusRelay
import XCTest

/// A service, a subscriber and a client that keep working across a relay restart on the same
/// port, without the application doing anything: once with an in-process `RelayServer`
/// (fast), once with a real `plexus relay` process killed with SIGKILL. Every wait is bounded.
final class ReconnectTests: XCTestCase {
    private let clock = ContinuousClock()
    /// The issue's bound: the service is reachable again within this of the relay being back.
    static let reachableAgainBound: Duration = .seconds(2)

    private static func startRelay(port: Int) async throws -> RelayServer {
        var configuration = RelayConfiguration()
        configuration.port = port
        var logger = Logger(label: "relay")
        logger.logLevel = .error
        return try await RelayServer.start(configuration: configuration, logger: logger)
    }

    /// The three application roles, connected with the default reconnect policy.
    private struct Applications {
        let service: Connection
        let subscriber: Connection
        let events: Subscription
        let client: Connection

        static func connect(port: Int) async throws -> Applications {
            let service = try await Connection.register(cluster: "restart-echo", handler: Echo(), port: port)
            let subscriber = try await Connection.connect(port: port)
            let events = try await subscriber.subscribe(to: "restart-news")
            let client = try await Connection.connect(port: port)
            return Applications(service: service, subscriber: subscriber, events: events, client: client)
        }

        func closeAll() async {
            for connection in [service, subscriber, client] { try? await connection.close() }
        }
    }

    /// Requests (each bounded by 250 ms) until one is answered; returns how long that took.
    private func firstAnswer(from client: Connection, within bound: Duration) async -> Duration? {
        let start = clock.now
        while clock.now - start < bound {
            if let reply = try? await client.request("ping", to: "restart-echo", timeout: .milliseconds(250)), reply == "ping" {
                return clock.now - start
            }
            try? await Task.sleep(for: .milliseconds(10))  // the client may itself be reconnecting: it fails fast then
        }
        return nil
    }

    /// Publishes until the subscriber gets an event (the subscription is restored shortly after
    /// the subscriber's own reconnect); bounded.
    private func eventArrives(at subscription: Subscription, from publisher: Connection, within bound: Duration) async -> Bool {
        let received = NIOLockedValueBox(false)
        let receiver = Task {
            var iterator = subscription.makeAsyncIterator()
            if let event = try? await iterator.next(), String(buffer: event) == "news" { received.withLockedValue { $0 = true } }
        }
        defer { receiver.cancel() }
        let start = clock.now
        while clock.now - start < bound {
            try? await publisher.publish("news", to: "restart-news")
            if await poll(within: .milliseconds(50), { received.withLockedValue { $0 } }) { return true }
        }
        return false
    }

    func testApplicationsSurviveAnInProcessRelayRestartOnTheSamePort() async throws {
        var relay = try await Self.startRelay(port: 0)
        let port = relay.port
        let apps = try await Applications.connect(port: port)
        let before = await firstAnswer(from: apps.client, within: .seconds(5))
        XCTAssertNotNil(before, "the service did not answer before the restart")

        await relay.shutdown()
        let lost = await poll(within: .seconds(5)) {
            [apps.service, apps.subscriber, apps.client].allSatisfy { $0.state == .reconnecting }
        }
        XCTAssertTrue(lost, "not every application noticed the relay's shutdown")
        relay = try await Self.startRelay(port: port)
        let back = await firstAnswer(from: apps.client, within: .seconds(10))
        print("in-process relay restart: service answered \(back.map { "\($0)" } ?? "never") after the relay was back")
        let took = try XCTUnwrap(back, "the service never answered after the restart")
        XCTAssertLessThan(took, Self.reachableAgainBound)
        let delivered = await eventArrives(at: apps.events, from: apps.client, within: .seconds(5))
        XCTAssertTrue(delivered, "the subscriber got no event after the restart")
        await apps.closeAll()
        await relay.shutdown()
    }

    func testApplicationsSurviveARealRelayProcessKilledAndRestartedOnTheSamePort() async throws {
        let processes = try RelayProcesses(prefix: "plexus-reconnect")
        defer { processes.cleanUp() }
        let port = freePort()
        let arguments = ["relay", "--dev", "--port", "\(port)", "--admin-port", "0", "--log-level", "warning"]
        try processes.start("relay-1", arguments)
        var apps: Applications?
        for _ in 0..<100 where apps == nil {  // the process may not listen yet: bounded retry
            apps = try? await Applications.connect(port: port)
            if apps == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let connected = try XCTUnwrap(apps, "no relay on \(port):\n\(processes.log("relay-1"))")
        let before = await firstAnswer(from: connected.client, within: .seconds(5))
        XCTAssertNotNil(before)

        processes.signal("relay-1", SIGKILL)
        processes.waitExit("relay-1")
        let lost = await poll(within: .seconds(5)) { connected.service.state == .reconnecting }
        XCTAssertTrue(lost, "the service did not notice the relay's death")
        try processes.start("relay-2", arguments)
        let listening = await poll(within: .seconds(10)) {
            var address = loopbackAddress(port: port)
            let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(probe) }
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
        XCTAssertTrue(listening, "restarted relay does not listen:\n\(processes.log("relay-2"))")
        let back = await firstAnswer(from: connected.client, within: .seconds(10))
        print("relay process restart: service answered \(back.map { "\($0)" } ?? "never") after the relay listened again")
        let took = try XCTUnwrap(back, "the service never answered after the restart:\n\(processes.log("relay-2"))")
        XCTAssertLessThan(took, Self.reachableAgainBound)
        let delivered = await eventArrives(at: connected.events, from: connected.client, within: .seconds(5))
        XCTAssertTrue(delivered, "the subscriber got no event after the restart")
        await connected.closeAll()
    }

    // MARK: No members (needs the relay side of the reliability issue)

    /// The relay answers at once with `plexus: no members` when no relay has a member of the
    /// cluster. REAL-RELAY CHECK OF THE CONTRACT: until the relay change of the reliability
    /// issue is merged, the relay lets the request time out and this test skips (it says so);
    /// afterwards it asserts the < 50 ms answer.
    func testNoMembersFailsAtOnceAndALaterMemberIsServed() async throws {
        let relay = try await Self.startRelay(port: 0)
        let client = try await Connection.connect(port: relay.port)
        let start = clock.now
        do {
            _ = try await client.request("anyone?", to: "restart-echo", timeout: .milliseconds(500))
            XCTFail("answered without a member")
        } catch PlexusError.noMembers(let cluster) {
            XCTAssertEqual(cluster, "restart-echo")
            XCTAssertLessThan(clock.now - start, .milliseconds(50))
        } catch PlexusError.timedOut {
            try await client.close()
            await relay.shutdown()
            throw XCTSkip("the relay does not answer `plexus: no members` yet (relay side of the reliability issue not merged)")
        }
        let service = try await Connection.register(cluster: "restart-echo", handler: Echo(), port: relay.port)
        let reply = try await client.request("now?", to: "restart-echo", timeout: .seconds(5))
        XCTAssertEqual(reply, "now?")
        try await service.close()
        try await client.close()
        await relay.shutdown()
    }
}
