import Foundation
import NIOCore
import NIOPosix
import PlexusCrypto
@testable import PlexusPeering
import XCTest

final class PeerFanOutTests: XCTestCase {
    var group: MultiThreadedEventLoopGroup!

    override func setUp() { group = MultiThreadedEventLoopGroup(numberOfThreads: 3) }
    override func tearDown() { try? group.syncShutdownGracefully() }

    func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try await condition() { return true }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        return try await condition()
    }

    /// 10,000 events from one publisher reach each of two relays exactly once and in order.
    func testTenThousandEventsReachEachRelayOnceInOrder() async throws {
        let key = NetworkKey.generate()
        let a = try await TestEndpoint(key: key, loop: group.next())
        let b = try await TestEndpoint(key: key, loop: group.next())
        let c = try await TestEndpoint(key: key, loop: group.next())
        let targets = [b.target, c.target]
        let skipped = try await a.peer.loop.submit { [endpoint = a.endpoint] in
            (0..<10_000).reduce(0) { sum, index in
                sum + endpoint.value.publish(topic: ByteBuffer(string: "news"), event: ByteBuffer(string: "e\(index)"), to: targets)
            }
        }.get()
        XCTAssertEqual(skipped, 0)
        let delivered = try await eventually(20) {
            b.events.withLockedValue { $0.count } >= 10_000 && c.events.withLockedValue { $0.count } >= 10_000
        }
        XCTAssertTrue(delivered)
        try await Task.sleep(nanoseconds: 200_000_000)
        let expected = (0..<10_000).map { "e\($0)" }
        XCTAssertEqual(b.events.withLockedValue { $0 }, expected)
        XCTAssertEqual(c.events.withLockedValue { $0 }, expected)
        await a.peer.shutdown()
        await b.peer.shutdown()
        await c.peer.shutdown()
    }

    /// A broadcast reaches every relay exactly once.
    func testBroadcastReachesEachRelayOnce() async throws {
        let key = NetworkKey.generate()
        let a = try await TestEndpoint(key: key, loop: group.next())
        let b = try await TestEndpoint(key: key, loop: group.next())
        let c = try await TestEndpoint(key: key, loop: group.next())
        let targets = [b.target, c.target]
        _ = try await a.peer.loop.submit { [endpoint = a.endpoint] in
            endpoint.value.broadcast(cluster: ByteBuffer(string: "svc"), message: ByteBuffer(string: "hello"), to: targets)
        }.get()
        let delivered = try await eventually(5) {
            b.broadcasts.withLockedValue { $0.count } == 1 && c.broadcasts.withLockedValue { $0.count } == 1
        }
        XCTAssertTrue(delivered)
        try await Task.sleep(nanoseconds: 200_000_000)
        XCTAssertEqual(b.broadcasts.withLockedValue { $0 }, ["hello"])
        XCTAssertEqual(c.broadcasts.withLockedValue { $0 }, ["hello"])
        await a.peer.shutdown()
        await b.peer.shutdown()
        await c.peer.shutdown()
    }

    /// At the per-peer byte bound, events are dropped and counted per topic; nothing else queues.
    func testOverflowIsDroppedAndCountedPerTopic() async throws {
        let key = NetworkKey.generate()
        let a = try await TestEndpoint(key: key, loop: group.next(), outboundLimitBytes: 90)
        let b = try await TestEndpoint(key: key, loop: group.next())
        let targets = [b.target]
        let dropped = try await a.peer.loop.submit { [endpoint = a.endpoint] in
            // 9-byte frames, same loop turn (no session yet): ten fit, ten are dropped.
            for index in 0..<20 {
                endpoint.value.publish(topic: ByteBuffer(string: "news"), event: ByteBuffer(string: "e\(index % 10)"), to: targets)
            }
            return endpoint.value.droppedEvents
        }.get()
        XCTAssertEqual(dropped, ["news": 10])
        let delivered = try await eventually(5) { b.events.withLockedValue { $0.count } == 10 }
        XCTAssertTrue(delivered)
        await a.peer.shutdown()
        await b.peer.shutdown()
    }
}
