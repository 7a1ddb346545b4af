import Foundation
import NIOCore
import Plexus
import PlexusCrypto
import PlexusFederation
import PlexusGateway
import PlexusNode
import XCTest

/// Back-pressure across a slow gateway link (`Docs/federation.md` §6), in-process on loopback:
/// overlay a's gateway reaches overlay b's through a proxy that drains ~13 MB/s; a client of
/// another relay of overlay a publishes 16 MiB of events as fast as it can against the default
/// link queue bound of 8 MiB (more than the kernel's socket buffers and the bound could absorb:
/// with the pause disabled, thousands of events are refused). It is paused instead of having the excess refused: every event arrives, in
/// order, and the gateway refused nothing.
extension FederationNodeTests {
    func startThrottledGateway(_ name: String, key: NetworkKey, federationKey: NetworkKey, joinPort: Int?,
                               linkQueueLimit: Int) async throws -> GatewayService {
        let identity = StaticIdentity.ephemeral()
        let node = try await startNode(key: key, identity: identity)
        var configuration = GatewayConfiguration(identity: identity, federationKeyring: Keyring(primary: federationKey),
                                                 overlay: OverlayName(name)!, host: "127.0.0.1", port: 0, logger: logger)
        configuration.joins = joinPort.map { [("127.0.0.1", $0)] } ?? []
        configuration.redialInterval = .milliseconds(200)
        configuration.linkQueueLimitBytes = linkQueueLimit
        let gateway = try await GatewayService.start(node: node, configuration: configuration, on: group.next())
        gateways.append(gateway)
        return gateway
    }

    func testAPublisherFasterThanTheGatewayLinkIsPausedNotRefused() async throws {
        let federationKey = NetworkKey.generate(), keyA = NetworkKey.generate()
        let gatewayB = try await startThrottledGateway("b", key: NetworkKey.generate(), federationKey: federationKey, joinPort: nil,
                                                       linkQueueLimit: 8 << 20)
        let proxy = try await ThrottledProxy.start(to: gatewayB.endpoint.port, chunk: 64 * 1024, interval: .milliseconds(5), group: group)
        let gatewayA = try await startThrottledGateway("a", key: keyA, federationKey: federationKey, joinPort: proxy.port,
                                                       linkQueueLimit: 8 << 20)
        let a2 = try await startNode(key: keyA, joining: gatewayA.node)
        let subscriber = try await connect(gatewayB.node)
        let events = try await subscriber.subscribe(to: "news")
        let learned = await eventually(10) { routes(.topic, "news", seenBy: a2) == 1 }
        XCTAssertTrue(learned, "overlay a learns that b wants news")

        let count = 16 * 1024
        let publisher = try await connect(a2)
        let started = Date()
        let received = Task {
            var iterator = events.makeAsyncIterator()
            var next = 0
            while next < count, let event = try await iterator.next() {
                XCTAssertEqual(event.getInteger(at: event.readerIndex, as: UInt32.self), UInt32(next), "in order, none lost")
                next += 1
            }
            return next
        }
        for index in 0..<count {
            var event = ByteBuffer()
            event.writeInteger(UInt32(index))
            event.writeRepeatingByte(0x65, count: 1020)
            try await publisher.publish(event, to: "news")
        }
        let delivered = try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask { try await received.value }
            group.addTask {
                try await Task.sleep(nanoseconds: 30_000_000_000)
                received.cancel()
                return -1
            }
            let first = try await group.next() ?? -1
            group.cancelAll()
            return first
        }
        let seconds = Date().timeIntervalSince(started)
        XCTAssertEqual(delivered, count, "every event crossed")
        let status = try await gatewayA.endpoint.status()
        XCTAssertEqual(status.refusedFrames, 0, "the gateway refused nothing")
        XCTAssertEqual(status.links.map(\.refusedFrames), [0])
        XCTAssertGreaterThan(seconds, 1.0, "16 MiB through a ~13 MB/s link: the publisher was held back")
        await proxy.stop()
    }
}
