import NIOCore
import PlexusTestSupport
import PlexusRelay
import PlexusWire
import XCTest

/// The four patterns end to end over loopback, beyond the worked example.
final class LoopbackPatternTests: LoopbackTestCase {
    func testBroadcastReachesEveryMemberIncludingSenderInOrder() throws {
        let a = try handshake(cluster: "svc")
        let b = try handshake(cluster: "svc")
        let plain = try handshake(cluster: nil)
        for i in 0..<50 {
            plain.send(.broadcast(cluster: ByteBuffer(string: "svc"), message: ByteBuffer(string: "p\(i)")))
        }
        for member in [a, b] {
            for i in 0..<50 {
                XCTAssertEqual(try member.readPacket(), .broadcast(message: ByteBuffer(string: "p\(i)")))
            }
        }
        a.send(.broadcast(cluster: ByteBuffer(string: "svc"), message: ByteBuffer(string: "self")))
        XCTAssertEqual(try a.readPacket(), .broadcast(message: ByteBuffer(string: "self")))
        XCTAssertEqual(try b.readPacket(), .broadcast(message: ByteBuffer(string: "self")))
        // The plain client never gets broadcasts: its next packet is the CLOSE answer.
        plain.send(.close)
        XCTAssertEqual(try plain.readPacket(), .close(reason: ByteBuffer()))
    }

    func testPublishSubscribeIncludingPublisher() throws {
        let a = try handshake(cluster: nil)
        let b = try handshake(cluster: "svc")
        a.send(.subscribe(topic: ByteBuffer(string: "t")), .subscribe(topic: ByteBuffer(string: "t")))
        // b subscribes, then requests a's... a is plain; use b's own in-order processing instead.
        b.send(.subscribe(topic: ByteBuffer(string: "t")),
               .unsubscribe(topic: ByteBuffer(string: "never")),
               .request(id: 7, cluster: ByteBuffer(string: "svc"), payload: ByteBuffer(string: "sync"), timeoutMilliseconds: 1000))
        XCTAssertEqual(try b.readPacket(), .request(id: 0, payload: ByteBuffer(string: "sync"), timeoutMilliseconds: 1000))
        b.send(.reply(id: 0, outcome: .success(ByteBuffer())))
        XCTAssertEqual(try b.readPacket(), .reply(id: 7, result: .success(ByteBuffer())))
        // a's subscription is in effect once a's own publish comes back to it.
        a.send(.publish(topic: ByteBuffer(string: "t"), event: ByteBuffer(string: "e0")))
        XCTAssertEqual(try a.readPacket(), .publish(topic: ByteBuffer(string: "t"), event: ByteBuffer(string: "e0")))
        XCTAssertEqual(try b.readPacket(), .publish(topic: ByteBuffer(string: "t"), event: ByteBuffer(string: "e0")))
        b.send(.unsubscribe(topic: ByteBuffer(string: "t")), .publish(topic: ByteBuffer(string: "t"), event: ByteBuffer(string: "e1")))
        XCTAssertEqual(try a.readPacket(), .publish(topic: ByteBuffer(string: "t"), event: ByteBuffer(string: "e1")))
        b.send(.close)
        XCTAssertEqual(try b.readPacket(), .close(reason: ByteBuffer()), "b unsubscribed: no e1 for it")
    }

    func testRequestTimeoutsAndSelfService() throws {
        let s = try handshake(cluster: "svc")
        // T = 0: immediate timed-out reply, nothing delivered.
        s.send(.request(id: 1, cluster: ByteBuffer(string: "svc"), payload: ByteBuffer(string: "x"), timeoutMilliseconds: 0))
        XCTAssertEqual(try s.readPacket(), .reply(id: 1, result: .timedOut))
        // T = 1 ms: delivered with timeout field 1, then timed out; a late reply is dropped.
        s.send(.request(id: 2, cluster: ByteBuffer(string: "svc"), payload: ByteBuffer(string: "y"), timeoutMilliseconds: 1))
        XCTAssertEqual(try s.readPacket(), .request(id: 0, payload: ByteBuffer(string: "y"), timeoutMilliseconds: 1))
        XCTAssertEqual(try s.readPacket(), .reply(id: 2, result: .timedOut))
        s.send(.reply(id: 0, outcome: .success(ByteBuffer(string: "late"))))
        // No member: answered at once with the reason (a remote error to Iris bindings).
        s.send(.request(id: 3, cluster: ByteBuffer(string: "nobody"), payload: ByteBuffer(string: "z"), timeoutMilliseconds: 60_000))
        XCTAssertEqual(try s.readPacket(), .reply(id: 3, result: .fault(ByteBuffer(string: #"plexus: no members: no member of cluster "nobody" on any relay"#))))
    }

    func testServiceDropAnswersPendingRequests() throws {
        let s = try handshake(cluster: "svc")
        let c = try handshake(cluster: nil)
        c.send(.request(id: 9, cluster: ByteBuffer(string: "svc"), payload: ByteBuffer(string: "q"), timeoutMilliseconds: 60_000))
        XCTAssertEqual(try s.readPacket(), .request(id: 0, payload: ByteBuffer(string: "q"), timeoutMilliseconds: 60_000))
        s.close() // abrupt drop
        XCTAssertEqual(try c.readPacket(timeout: 5), .reply(id: 9, result: .timedOut))
    }

    func testTunnelToOwnClusterLargeMessage() throws {
        let s = try handshake(cluster: "svc")
        s.send(.tunnelInit(id: 0, cluster: ByteBuffer(string: "svc"), timeoutMilliseconds: 1000))
        XCTAssertEqual(try s.readPacket(), .tunnelOffer(buildID: 0, chunkLimit: 65536))
        s.send(.tunnelConfirm(buildID: 0, tunnelID: 1), .tunnelAllow(id: 1, allowance: 64 << 20))
        XCTAssertEqual(try s.readPacket(), .tunnelAllow(id: 1, allowance: 4 << 20))
        XCTAssertEqual(try s.readPacket(), .tunnelResult(id: 0, chunkLimit: 65536))
        XCTAssertEqual(try s.readPacket(), .tunnelAllow(id: 0, allowance: 4 << 20))
        s.send(.tunnelAllow(id: 0, allowance: 64 << 20))
        // 1 MiB message in 16 chunks from end 0 to end 1.
        let pattern = [UInt8]((0..<256).map { UInt8($0) })
        var sent = ByteBuffer()
        for _ in 0..<(1 << 12) { sent.writeBytes(pattern) }
        var encoded = ByteBuffer()
        var offset = 0
        while offset < sent.readableBytes {
            let chunk = sent.getSlice(at: offset, length: 65536)!
            encoded.writeClientPacket(.tunnelTransfer(id: 0, sizeOrContinuation: offset == 0 ? 1 << 20 : 0, chunk: chunk))
            offset += 65536
        }
        s.send(encoded: encoded)
        var received = ByteBuffer()
        var credit: UInt64 = 0
        while received.readableBytes < 1 << 20 || credit < 1 << 20 {
            switch try s.readPacket() {
            case .tunnelTransfer(let id, _, var chunk):
                XCTAssertEqual(id, 1)
                received.writeBuffer(&chunk)
            case .tunnelAllow(let id, let amount):
                XCTAssertEqual(id, 0)
                credit += amount
            case let other:
                XCTFail("unexpected \(other)")
                return
            }
        }
        XCTAssertEqual(received, sent)
        s.send(.tunnelClose(id: 1))
        XCTAssertEqual(try s.readPacket(), .tunnelClose(id: 1, reason: ByteBuffer()))
        XCTAssertEqual(try s.readPacket(), .tunnelClose(id: 0, reason: ByteBuffer()))
    }
}
