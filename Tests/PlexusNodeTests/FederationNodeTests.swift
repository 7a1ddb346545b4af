import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Plexus
import PlexusCrypto
import PlexusFederation
import PlexusGateway
import PlexusMembership
import PlexusNode
import PlexusOverlay
import PlexusRelay
import XCTest

/// An echo service that counts what it handled and the broadcasts it got.
final class CountingEcho: ServiceHandler {
    private let counts = NIOLockedValueBox<(requests: Int, broadcasts: [String])>((0, []))
    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer {
        counts.withLockedValue { $0.requests += 1 }
        return request
    }
    func handleBroadcast(_ message: ByteBuffer) async {
        counts.withLockedValue { $0.broadcasts.append(String(buffer: message)) }
    }
    var requests: Int { counts.withLockedValue { $0.requests } }
    var broadcasts: [String] { counts.withLockedValue { $0.broadcasts } }
}

/// Two overlays ("a", "b"; different network keys) of two in-process relays each on loopback, one
/// gateway each (`GatewayService`), linked with one federation key (`Docs/federation.md`).
final class FederationNodeTests: XCTestCase {
    var nodes: [RelayNode] = []
    var gateways: [GatewayService] = []
    var connections: [Connection] = []
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    override func tearDown() async throws {
        for connection in connections { try? await connection.close() }
        for gateway in gateways { await gateway.shutdown() }
        for node in nodes { await node.stopAbruptly() }
        connections = []
        gateways = []
        nodes = []
        try await group.shutdownGracefully()
    }

    var logger: Logger {
        var logger = Logger(label: "federation-test")
        logger.logLevel = .warning
        return logger
    }

    func startNode(key: NetworkKey, identity: StaticIdentity = .ephemeral(), joining seed: RelayNode? = nil) async throws -> RelayNode {
        var relay = RelayConfiguration()
        relay.port = 0
        relay.hosts = ["127.0.0.1"]
        let overlay = OverlayConfiguration(identity: identity, keyring: Keyring(primary: key), bindHost: "127.0.0.1", peerPort: 0,
                                           seeds: seed.map { [$0.overlay.advertisedAddress] } ?? [], logger: logger)
        let node = try await RelayNode.start(relay: relay, overlay: overlay)
        nodes.append(node)
        return node
    }

    /// A relay that is also the gateway of overlay `name`.
    func startGateway(_ name: String, key: NetworkKey, federationKey: NetworkKey,
                      joining target: GatewayService? = nil, alsoJoining others: [GatewayService] = []) async throws -> GatewayService {
        let identity = StaticIdentity.ephemeral()
        let node = try await startNode(key: key, identity: identity)
        var configuration = GatewayConfiguration(identity: identity, federationKeyring: Keyring(primary: federationKey),
                                                 overlay: OverlayName(name)!, host: "127.0.0.1", port: 0, logger: logger)
        configuration.joins = ([target].compactMap { $0 } + others).map { ("127.0.0.1", $0.endpoint.port) }
        configuration.redialInterval = .milliseconds(200)
        let gateway = try await GatewayService.start(node: node, configuration: configuration, on: group.next())
        gateways.append(gateway)
        return gateway
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

    func routes(_ kind: GatewayRoute.Kind, _ name: String, seenBy node: RelayNode) -> Int {
        node.overlay.directorySnapshot.records.values.reduce(0) { total, record in
            total + record.gatewayRoutes.filter { $0.kind == kind && $0.name == PlexusMembership.Name(name) }.count
        }
    }

    func connect(_ node: RelayNode) async throws -> Connection {
        let connection = try await Connection.connect(port: node.relay.port)
        connections.append(connection)
        return connection
    }

    func testRequestBroadcastAndEventsCrossAndComeBack() async throws {
        let federationKey = NetworkKey.generate()
        let keyA = NetworkKey.generate()
        let keyB = NetworkKey.generate()
        let gatewayA = try await startGateway("a", key: keyA, federationKey: federationKey)
        let a2 = try await startNode(key: keyA, joining: gatewayA.node)
        let gatewayB = try await startGateway("b", key: keyB, federationKey: federationKey, joining: gatewayA)
        let b2 = try await startNode(key: keyB, joining: gatewayB.node)

        let echo = CountingEcho()
        connections.append(try await Connection.register(cluster: "echo", handler: echo, port: b2.relay.port))
        let subscriberB = try await connect(b2)
        let events = try await subscriberB.subscribe(to: "news")
        let waited = await eventually(10) { routes(.cluster, "echo", seenBy: a2) == 1 && routes(.topic, "news", seenBy: a2) == 1 }
        XCTAssertTrue(waited, "overlay a learns that b serves echo and wants news")

        let client = try await connect(a2)
        let reply = try await client.request("hi", to: "echo", timeout: .seconds(2))
        XCTAssertEqual(reply, "hi")
        XCTAssertEqual(echo.requests, 1)

        try await client.publish("e1", to: "news")
        try await client.publish("e2", to: "news")
        var iterator = events.makeAsyncIterator()
        let first = try await iterator.next().map { String(buffer: $0) }
        let second = try await iterator.next().map { String(buffer: $0) }
        XCTAssertEqual([first, second], ["e1", "e2"], "in publisher order")

        try await client.broadcast("all", to: "echo")
        let broadcastArrived = await eventually(5) { echo.broadcasts == ["all"] }
        XCTAssertTrue(broadcastArrived, "\(echo.broadcasts)")

        let status = try await gatewayA.endpoint.status()
        XCTAssertEqual(status.links.count, 1)
        XCTAssertEqual(status.links.first?.overlay, OverlayName("b"))
        XCTAssertEqual(status.links.first?.remoteClusters, ["echo"])
    }

    func testLocalMemberFirstAndLinkLossWithdrawsInterest() async throws {
        let federationKey = NetworkKey.generate()
        let keyA = NetworkKey.generate()
        let keyB = NetworkKey.generate()
        let gatewayA = try await startGateway("a", key: keyA, federationKey: federationKey)
        let a2 = try await startNode(key: keyA, joining: gatewayA.node)
        let gatewayB = try await startGateway("b", key: keyB, federationKey: federationKey, joining: gatewayA)
        let remote = CountingEcho()
        connections.append(try await Connection.register(cluster: "echo", handler: remote, port: gatewayB.node.relay.port))
        let local = CountingEcho()
        connections.append(try await Connection.register(cluster: "echo", handler: local, port: gatewayA.node.relay.port))
        let learned = await eventually(10) { routes(.cluster, "echo", seenBy: a2) == 1 && !a2.overlay.directorySnapshot.relays(servingCluster: "echo").isEmpty }
        XCTAssertTrue(learned)
        let client = try await connect(a2)
        for index in 0..<20 {
            let reply = try await client.request("\(index)", to: "echo", timeout: .seconds(2))
            XCTAssertEqual(reply, "\(index)")
        }
        XCTAssertEqual(local.requests, 20)
        XCTAssertEqual(remote.requests, 0, "no request crosses while the local member is healthy")

        await gatewayB.shutdown()
        let withdrawn = await eventually(5) { routes(.cluster, "echo", seenBy: a2) == 0 }
        XCTAssertTrue(withdrawn, "the interest of a lost link is withdrawn")
    }

    func testGatewayWithWrongFederationKeyIsRefused() async throws {
        let gatewayA = try await startGateway("a", key: .generate(), federationKey: .generate())
        let intruder = try await startGateway("x", key: .generate(), federationKey: .generate(), joining: gatewayA)
        let refusedTwice = try await eventually(5) {
            let a = try await gatewayA.endpoint.status()
            let x = try await intruder.endpoint.status()
            return a.unauthenticatedClosed >= 2 && x.unauthenticatedClosed >= 2
        }
        XCTAssertTrue(refusedTwice, "both sides saw the handshake fail (the intruder redials every 200 ms)")
        let statusA = try await gatewayA.endpoint.status()
        let statusX = try await intruder.endpoint.status()
        XCTAssertEqual(statusA.links.count, 0, "refused during the handshake")
        XCTAssertEqual(statusX.links.count, 0)
        XCTAssertEqual(routes(.cluster, "echo", seenBy: gatewayA.node), 0)
    }
}

extension FederationNodeTests {
    /// Three overlays in a full mesh: a broadcast and events from one reach every member and
    /// subscriber of the two others exactly once (nothing is relayed through a third overlay).
    func testThreeOverlaysExactlyOnceNoLoops() async throws {
        let federationKey = NetworkKey.generate()
        let a = try await startGateway("a", key: .generate(), federationKey: federationKey)
        let b = try await startGateway("b", key: .generate(), federationKey: federationKey, joining: a)
        let c = try await startGateway("c", key: .generate(), federationKey: federationKey, joining: b, alsoJoining: [a])

        let memberB = CountingEcho(), memberC = CountingEcho()
        connections.append(try await Connection.register(cluster: "echo", handler: memberB, port: b.node.relay.port))
        connections.append(try await Connection.register(cluster: "echo", handler: memberC, port: c.node.relay.port))
        let subscriberB = try await connect(b.node), subscriberC = try await connect(c.node)
        let eventsB = try await subscriberB.subscribe(to: "news"), eventsC = try await subscriberC.subscribe(to: "news")
        let learned = await eventually(10) { routes(.cluster, "echo", seenBy: a.node) >= 2 && routes(.topic, "news", seenBy: a.node) >= 2 }
        XCTAssertTrue(learned, "a learns echo and news from b and from c")

        let publisher = try await connect(a.node)
        try await publisher.broadcast("once", to: "echo")
        for index in 1...10 { try await publisher.publish("\(index)", to: "news") }
        var iteratorB = eventsB.makeAsyncIterator(), iteratorC = eventsC.makeAsyncIterator()
        var seenB: [String] = [], seenC: [String] = []
        while seenB.last != "10", seenB.count < 40 { seenB.append(try await iteratorB.next().map { String(buffer: $0) } ?? "end") }
        while seenC.last != "10", seenC.count < 40 { seenC.append(try await iteratorC.next().map { String(buffer: $0) } ?? "end") }
        // A sentinel through the same path: anything duplicated by a loop would arrive before it.
        try await publisher.publish("sentinel", to: "news")
        while seenB.last != "sentinel", seenB.count < 40 { seenB.append(try await iteratorB.next().map { String(buffer: $0) } ?? "end") }
        while seenC.last != "sentinel", seenC.count < 40 { seenC.append(try await iteratorC.next().map { String(buffer: $0) } ?? "end") }
        let expected = (1...10).map(String.init) + ["sentinel"]
        XCTAssertEqual(seenB, expected, "exactly once, in order, in b")
        XCTAssertEqual(seenC, expected, "exactly once, in order, in c")
        let broadcasts = await eventually(5) { memberB.broadcasts == ["once"] && memberC.broadcasts == ["once"] }
        XCTAssertTrue(broadcasts, "b: \(memberB.broadcasts), c: \(memberC.broadcasts)")
    }
}
