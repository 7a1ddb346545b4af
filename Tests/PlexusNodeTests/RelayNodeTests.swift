import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Plexus
import PlexusCrypto
import PlexusMembership
import PlexusNode
import PlexusOverlay
import PlexusRelay
import XCTest

/// A service whose answers wait until the test opens the gate; counts what it handled.
final class GatedService: ServiceHandler {
    private let state = NIOLockedValueBox<(open: Bool, waiting: [CheckedContinuation<Void, Never>], handled: Int)>(
        (false, [], 0))

    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLockedValue { state -> Bool in
                state.handled += 1
                if state.open { return true }
                state.waiting.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
        return request
    }

    func open() {
        let waiting = state.withLockedValue { state in
            state.open = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    var handled: Int { state.withLockedValue { $0.handled } }
}

/// In-process relays joined into one overlay on loopback (`RelayNode`): graceful leave.
final class RelayNodeTests: XCTestCase {
    var nodes: [RelayNode] = []

    override func tearDown() async throws {
        for node in nodes { await node.stopAbruptly() }
        nodes = []
    }

    func startNode(key: NetworkKey, joining seed: RelayNode? = nil) async throws -> RelayNode {
        var logger = Logger(label: "node")
        logger.logLevel = .warning
        var relay = RelayConfiguration()
        relay.port = 0
        relay.hosts = ["127.0.0.1"]
        let overlay = OverlayConfiguration(identity: .ephemeral(), keyring: Keyring(primary: key), bindHost: "127.0.0.1",
                                           peerPort: 0, seeds: seed.map { [$0.overlay.advertisedAddress] } ?? [],
                                           logger: logger)
        let node = try await RelayNode.start(relay: relay, overlay: overlay)
        nodes.append(node)
        return node
    }

    /// Polls `condition` every 20 ms for at most `seconds`.
    func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let end = Date().addingTimeInterval(seconds)
        repeat {
            if try await condition() { return true }
            try? await Task.sleep(nanoseconds: 20_000_000)
        } while Date() < end
        return false
    }

    func servers(of cluster: String, seenBy node: RelayNode) -> Int {
        node.overlay.directorySnapshot.relays(servingCluster: PlexusMembership.Name(cluster)).count
    }

    func testGracefulLeaveFinishesPendingRequestsAndSendsNewOnesElsewhere() async throws {
        let key = NetworkKey.generate()
        let a = try await startNode(key: key)
        let b = try await startNode(key: key, joining: a)
        let c = try await startNode(key: key, joining: a)
        let gated = GatedService()
        let serviceB = try await Connection.register(cluster: "work", handler: gated, port: b.relay.port)
        let client = try await Connection.connect(port: a.relay.port)
        let visible = await eventually(10) { self.servers(of: "work", seenBy: a) == 1 }
        XCTAssertTrue(visible, "relay A never saw the service on relay B")

        let pending = Task { try await client.request("in flight", to: "work", timeout: .seconds(20)) }
        let delivered = await eventually(10) { gated.handled == 1 }
        XCTAssertTrue(delivered)

        // B leaves gracefully while the request is pending: it must finish it, not fail it.
        let leaving = Task { await b.shutdown(drainTimeout: .seconds(10)) }
        let serviceC = try await Connection.register(cluster: "work", handler: GatedService(), port: c.relay.port)
        let cVisible = await eventually(10) { self.servers(of: "work", seenBy: a) == 2 }
        XCTAssertTrue(cVisible)
        gated.open()
        let answer = try await pending.value
        XCTAssertEqual(answer, "in flight", "a request pending on a draining relay completes normally")
        await leaving.value

        // New requests go to C (B is gone).
        let echo = EchoHandler()
        try await serviceC.close()
        let serviceC2 = try await Connection.register(cluster: "work", handler: echo, port: c.relay.port)
        let answered = try await eventuallyAnswered(client, timeout: 10)
        XCTAssertEqual(answered, "after")
        try await serviceC2.close()
        try await client.close()
        try? await serviceB.close()
    }

    func testRelayStoppingWithPendingRequestsFailsThemAtOnce() async throws {
        let key = NetworkKey.generate()
        let a = try await startNode(key: key)
        let b = try await startNode(key: key, joining: a)
        let gated = GatedService()
        let service = try await Connection.register(cluster: "work", handler: gated, limits: ServiceLimits(requestConcurrency: 128),
                                           port: b.relay.port)
        let client = try await Connection.connect(port: a.relay.port)
        let visible = await eventually(10) { self.servers(of: "work", seenBy: a) == 1 }
        XCTAssertTrue(visible)
        let requests = (0..<100).map { n in
            Task { () -> (Bool, Duration) in
                let clock = ContinuousClock()
                let start = clock.now
                let ok = (try? await client.request("r\(n)", to: "work", timeout: .seconds(30))) != nil
                return (ok, clock.now - start)
            }
        }
        let allDelivered = await eventually(10) { gated.handled == 100 }
        XCTAssertTrue(allDelivered)
        let stopped = ContinuousClock.now
        await b.stopAbruptly()
        var slowest = Duration.zero
        for request in requests {
            let (ok, _) = await request.value
            XCTAssertFalse(ok, "a request pending on a stopped relay must fail")
            slowest = max(slowest, ContinuousClock.now - stopped)
        }
        XCTAssertLessThan(slowest, .seconds(5), "pending requests fail at once, not at their 30 s timeout")
        try await client.close()
        withExtendedLifetime(service) {}  // a released Connection closes its socket
    }

    /// Retries a short request until one succeeds (directory changes take up to ~2 s).
    func eventuallyAnswered(_ client: Connection, timeout seconds: Double) async throws -> String? {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if let answer = try? await client.request("after", to: "work", timeout: .milliseconds(500)) { return answer }
        }
        return nil
    }
}

struct EchoHandler: ServiceHandler {
    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer { request }
}
