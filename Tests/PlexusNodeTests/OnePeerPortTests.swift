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

/// A service that echoes requests and tunnel messages and records broadcasts.
final class PatternsService: ServiceHandler {
    let broadcasts = NIOLockedValueBox<[String]>([])

    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer { request }
    func handleBroadcast(_ message: ByteBuffer) async { broadcasts.withLockedValue { $0.append(String(buffer: message)) } }
    func handleTunnel(_ tunnel: Tunnel) async {
        while let message = try? await tunnel.receive(timeout: .seconds(10)) {
            try? await tunnel.send(message)
        }
    }
}

/// Relays on loopback whose relay-to-relay traffic all goes through their ONE peer port
/// (membership streams and messaging sessions behind a one-byte preface): the directory's session
/// address is the peer port, and every pattern crosses relays.
final class OnePeerPortTests: XCTestCase {
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

    func testTwoRelaysCarryRequestsAndEventsOnTheirPeerPortsOnly() async throws {
        let key = NetworkKey.generate()
        let a = try await startNode(key: key)
        let b = try await startNode(key: key, joining: a)
        let service = try await Connection.register(cluster: "echo", handler: PatternsService(), port: a.relay.port)
        let subscriber = try await Connection.connect(port: a.relay.port)
        let events = try await subscriber.subscribe(to: "news")
        let client = try await Connection.connect(port: b.relay.port)
        let visible = await eventually(10) {
            let directory = b.overlay.directorySnapshot
            return !directory.relays(servingCluster: Name("echo")).isEmpty && !directory.relays(wantingTopic: Name("news")).isEmpty
        }
        XCTAssertTrue(visible, "relay B never saw A's service and subscription")

        // Every record's session address is its peer port (the membership address).
        for node in [a, b] {
            let record = try XCTUnwrap(a.overlay.directorySnapshot.record(of: node.nodeID))
            XCTAssertEqual(record.addresses, [node.overlay.advertisedAddress, node.overlay.advertisedAddress])
        }
        let answer = try await client.request("across", to: "echo", timeout: .seconds(5))
        XCTAssertEqual(answer, "across")
        try await client.publish("extra", to: "news")
        var iterator = events.makeAsyncIterator()
        let event = try await iterator.next()
        XCTAssertEqual(event.map { String(buffer: $0) }, "extra")
        let statistics = try await b.relay.statistics()
        XCTAssertEqual(statistics.peerSessions, 1, "B's one session to A, dialed to A's peer port")
        try await client.close()
        try await subscriber.close()
        try await service.close()
    }

    func testThreeRelaysCarryAllFourPatterns() async throws {
        let key = NetworkKey.generate()
        let a = try await startNode(key: key)
        let b = try await startNode(key: key, joining: a)
        let c = try await startNode(key: key, joining: a)
        let handler = PatternsService()
        let service = try await Connection.register(cluster: "work", handler: handler, port: a.relay.port)
        let subscriber = try await Connection.connect(port: b.relay.port)
        let events = try await subscriber.subscribe(to: "orders")
        let client = try await Connection.connect(port: c.relay.port)
        let visible = await eventually(10) {
            let directory = c.overlay.directorySnapshot
            return !directory.relays(servingCluster: Name("work")).isEmpty && !directory.relays(wantingTopic: Name("orders")).isEmpty
        }
        XCTAssertTrue(visible, "relay C never saw A's service and B's subscription")

        let reply = try await client.request("request", to: "work", timeout: .seconds(5))
        XCTAssertEqual(reply, "request")
        try await client.broadcast("broadcast", to: "work")
        let broadcastArrived = await eventually(5) { handler.broadcasts.withLockedValue { $0 } == ["broadcast"] }
        XCTAssertTrue(broadcastArrived)
        try await client.publish("event", to: "orders")
        var iterator = events.makeAsyncIterator()
        let event = try await iterator.next()
        XCTAssertEqual(event.map { String(buffer: $0) }, "event")
        let tunnel = try await client.tunnel(to: "work", timeout: .seconds(5))
        for index in 0..<3 { try await tunnel.send("chunk \(index)") }
        var echoed: [String] = []
        for _ in 0..<3 { echoed.append(String(buffer: try await tunnel.receive(timeout: .seconds(5)))) }
        XCTAssertEqual(echoed, ["chunk 0", "chunk 1", "chunk 2"], "ordered through the tunnel")
        try await tunnel.close()
        try await client.close()
        try await subscriber.close()
        try await service.close()
    }
}
