import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Plexus
import PlexusCrypto
import PlexusFederation
import PlexusMembership
import PlexusNode
import XCTest

/// Echoes every tunnel message and remembers how each of its tunnels ended.
final class TunnelEcho: ServiceHandler {
    private let endings = NIOLockedValueBox<[String]>([])
    var closeReasons: [String] { endings.withLockedValue { $0 } }

    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer { request }
    func handleTunnel(_ tunnel: Tunnel) async {
        do {
            while true {
                let message = try await tunnel.receive(timeout: .seconds(30))
                try await tunnel.send(message, timeout: .seconds(30))
            }
        } catch {
            endings.withLockedValue { $0.append("\(error)") }
        }
    }
}

/// Tunnels across two overlays of in-process relays on loopback (`Docs/federation.md` §4,
/// tunnels): through both gateways, from and to the gateway relays themselves, and closed with a
/// reason at both ends when the gateway link goes.
extension FederationNodeTests {
    /// Overlay a (gateway + a2) and overlay b (gateway + b2), linked.
    func twoLinkedOverlays() async throws -> (gatewayA: GatewayService, a2: RelayNode, gatewayB: GatewayService, b2: RelayNode) {
        let federationKey = NetworkKey.generate()
        let keyA = NetworkKey.generate()
        let keyB = NetworkKey.generate()
        let gatewayA = try await startGateway("a", key: keyA, federationKey: federationKey)
        let a2 = try await startNode(key: keyA, joining: gatewayA.node)
        let gatewayB = try await startGateway("b", key: keyB, federationKey: federationKey, joining: gatewayA)
        let b2 = try await startNode(key: keyB, joining: gatewayB.node)
        return (gatewayA, a2, gatewayB, b2)
    }

    /// Message `index` of `size` bytes: its index, then bytes derived from it.
    func patterned(_ index: Int, size: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(index))
        buffer.writeRepeatingByte(UInt8(truncatingIfNeeded: index &* 31), count: size - 8)
        buffer.writeInteger(UInt32(index) &* 2_654_435_761)
        return buffer
    }

    /// Sends `count` messages of `size` bytes through `tunnel` while reading the echoes; every
    /// echo must come back equal and in order.
    func pumpEcho(_ tunnel: Tunnel, count: Int, size: Int) async throws {
        let messages = (0..<count).map { patterned($0, size: size) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for message in messages { try await tunnel.send(message, timeout: .seconds(30)) }
            }
            group.addTask {
                for (index, expected) in messages.enumerated() {
                    let echo = try await tunnel.receive(timeout: .seconds(30))
                    XCTAssertEqual(echo.getInteger(at: echo.readerIndex, as: UInt32.self), UInt32(index), "in order")
                    XCTAssertEqual(echo, expected, "message \(index) intact")
                }
            }
            try await group.waitForAll()
        }
    }

    func testTunnelsCrossOverlaysOrderedAndFlowControlled() async throws {
        let (gatewayA, a2, gatewayB, b2) = try await twoLinkedOverlays()
        let remoteEcho = TunnelEcho()
        connections.append(try await Connection.register(cluster: "far", handler: remoteEcho, port: b2.relay.port))
        let gatewayEcho = TunnelEcho()
        connections.append(try await Connection.register(cluster: "edge", handler: gatewayEcho, port: gatewayB.node.relay.port))
        let learned = await eventually(10) { routes(.cluster, "far", seenBy: a2) == 1 && routes(.cluster, "edge", seenBy: a2) == 1 }
        XCTAssertTrue(learned, "overlay a learns that b serves far and edge")

        // a2 → gateway a → gateway b → b2: every hop of the path, 8 MiB each way.
        let client = try await connect(a2)
        let tunnel = try await client.tunnel(to: "far", timeout: .seconds(5))
        try await pumpEcho(tunnel, count: 128, size: 64 * 1024)
        try await tunnel.close()

        // From the gateway relay's own client to a member on the other gateway relay (the
        // relay cores hand over to their gateways directly).
        let gatewayClient = try await connect(gatewayA.node)
        let edge = try await gatewayClient.tunnel(to: "edge", timeout: .seconds(5))
        try await pumpEcho(edge, count: 32, size: 100_000)
        try await edge.close()

        let status = try await gatewayA.endpoint.status()
        XCTAssertEqual(status.links.first?.tunnels, 0, "closed tunnels are forgotten by the gateway")
        let ended = await eventually(5) { remoteEcho.closeReasons.count == 1 && gatewayEcho.closeReasons.count == 1 }
        XCTAssertTrue(ended, "each service end saw its tunnel close: \(remoteEcho.closeReasons) \(gatewayEcho.closeReasons)")
    }

    func testTunnelToNobodyFailsAtOnceAndLinkLossClosesBothEndsWithTheReason() async throws {
        let (_, a2, gatewayB, b2) = try await twoLinkedOverlays()
        let echo = TunnelEcho()
        connections.append(try await Connection.register(cluster: "far", handler: echo, port: b2.relay.port))
        let learned = await eventually(10) { routes(.cluster, "far", seenBy: a2) == 1 }
        XCTAssertTrue(learned)
        let client = try await connect(a2)

        let started = Date()
        do {
            _ = try await client.tunnel(to: "nobody-anywhere", timeout: .seconds(5))
            XCTFail("a tunnel to a cluster served nowhere must fail")
        } catch {
            XCTAssertLessThan(Date().timeIntervalSince(started), 2, "it fails at once, not at the timeout: \(error)")
        }

        let tunnel = try await client.tunnel(to: "far", timeout: .seconds(5))
        try await pumpEcho(tunnel, count: 4, size: 1000)
        await gatewayB.shutdown()
        do {
            _ = try await tunnel.receive(timeout: .seconds(5))
            XCTFail("the tunnel must close when the gateway link goes")
        } catch PlexusError.closed(let reason) {
            XCTAssertTrue(reason.contains("gateway link to overlay"), reason)
        }
        let serviceSaw = await eventually(5) { echo.closeReasons.contains { $0.contains("gateway link to overlay") } }
        XCTAssertTrue(serviceSaw, "the member's end closed with the reason too: \(echo.closeReasons)")
    }
}
