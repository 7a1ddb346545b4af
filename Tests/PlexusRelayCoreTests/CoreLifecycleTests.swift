import NIOCore
@testable import PlexusRelayCore
import PlexusWire
import XCTest

/// Handshake, connection lifecycle and graceful close on virtual time.
final class CoreLifecycleTests: XCTestCase {
    func testAcceptRegistersBeforeAnswering() {
        var h = CoreHarness()
        let a = h.connect("svc")
        // Membership is effective right away: a self-broadcast reaches it.
        XCTAssertEqual(h.receive(.broadcast(cluster: s("svc"), message: s("m")), from: a), [p(a, .broadcast(message: s("m")))])
    }

    func testWrongVersionIsDenied() {
        var h = CoreHarness()
        let a = h.open()
        let out = h.receive(.initiate(version: s("v1.0-draft1"), cluster: s("")), from: a)
        XCTAssertEqual(out, [p(a, .deny(reason: s("Unsupported protocol. Client: v1.0-draft1. Iris: v1.0-draft2."))), .close(a)])
        XCTAssertEqual(h.core.connections.count, 0)
    }

    func testNonInitFirstPacketClosesSilently() {
        var h = CoreHarness()
        let a = h.open()
        XCTAssertEqual(h.receive(.subscribe(topic: s("t")), from: a), [.close(a)])
        let b = h.open()
        h.core.decodeFailed(b, error: "bad magic")
        XCTAssertEqual(h.collect(), [.close(b)])
    }

    func testHandshakeDeadlineDropsSilentConnectionOnly() {
        var h = CoreHarness { $0.handshakeTimeout = .milliseconds(200) }
        let silent = h.open()
        let good = h.connect(nil)
        XCTAssertEqual(h.advance(milliseconds: 199), [])
        XCTAssertEqual(h.advance(milliseconds: 1), [.close(silent)])
        XCTAssertNotNil(h.core.connections[good])
        XCTAssertEqual(h.advance(milliseconds: 10_000), [])
    }

    func testViolationAfterHandshakeClosesWithReason() {
        var h = CoreHarness()
        let a = h.connect(nil)
        let out = h.receive(.initiate(version: s(WireConstants.protocolVersion), cluster: s("")), from: a)
        XCTAssertEqual(out, [p(a, .close(reason: s("plexus: protocol violation: INIT after the handshake"))), .close(a)])
        let b = h.connect(nil)
        h.core.decodeFailed(b, error: "oops")
        XCTAssertEqual(h.collect(), [p(b, .close(reason: s("plexus: protocol violation: oops"))), .close(b)])
    }

    func testGracefulCloseOrdering() {
        var h = CoreHarness()
        let svc = h.connect("svc")
        let other = h.connect("svc")
        h.receive(.subscribe(topic: s("t")), from: svc)
        // Packets read before CLOSE are processed; CLOSE("") is the last thing svc gets.
        XCTAssertEqual(h.receive(.broadcast(cluster: s("svc"), message: s("bye")), from: svc),
                       [p(svc, .broadcast(message: s("bye"))), p(other, .broadcast(message: s("bye")))])
        XCTAssertEqual(h.receive(.close, from: svc), [p(svc, .close(reason: s(""))), .close(svc)])
        // Removed from the cluster and the topic; later packets are ignored.
        XCTAssertEqual(h.receive(.broadcast(cluster: s("svc"), message: s("x")), from: other), [p(other, .broadcast(message: s("x")))])
        XCTAssertEqual(h.receive(.publish(topic: s("t"), event: s("e")), from: other), [])
        XCTAssertEqual(h.receive(.publish(topic: s("t"), event: s("e")), from: svc), [])
        XCTAssertEqual(h.core.routes.topicCount, 0)
        XCTAssertEqual(h.core.routes.members(of: WireName(s("svc"))), [.local(other)])
        h.core.connectionClosed(other)
        XCTAssertEqual(h.core.routes.clusterCount, 0)
        // A request to the now empty cluster is answered at once instead of vanishing.
        let c = h.connect(nil)
        XCTAssertEqual(h.receive(.request(id: 1, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 5), from: c),
                       [p(c, .reply(id: 1, result: .fault(s(#"plexus: no members: no member of cluster "svc" on any relay"#))))])
    }

    func testShutdownClosesEveryoneWithReason() {
        var h = CoreHarness()
        let a = h.connect(nil)
        let pending = h.open()
        h.core.shutdown(reason: "bye")
        XCTAssertEqual(h.collect(), [p(a, .close(reason: s("bye"))), .close(a), .close(pending)])
        XCTAssertEqual(h.core.connections.count, 0)
        XCTAssertNil(h.core.nextDeadline)
    }

    func testEncodedSizeMatchesEncoder() {
        let packets: [RelayPacket] = [
            .accept(version: s("v1.0-draft2")), .deny(reason: s("no")), .close(reason: s("")),
            .broadcast(message: ByteBuffer(repeating: 1, count: 300)),
            .request(id: 1 << 40, payload: s("hi"), timeoutMilliseconds: 1000),
            .reply(id: 3, result: .timedOut), .reply(id: 3, result: .success(s("ok"))), .reply(id: 3, result: .fault(s(""))),
            .publish(topic: s("t"), event: s("e")), .tunnelOffer(buildID: 0, chunkLimit: 65536),
            .tunnelResult(id: 0, chunkLimit: nil), .tunnelResult(id: 0, chunkLimit: 65536),
            .tunnelAllow(id: 9, allowance: 1 << 26), .tunnelTransfer(id: 1, sizeOrContinuation: 0, chunk: s("abc")),
            .tunnelClose(id: 1, reason: s("why")),
        ]
        for packet in packets {
            var buffer = ByteBuffer()
            buffer.writeRelayPacket(packet)
            XCTAssertEqual(packet.encodedSize, buffer.readableBytes, "\(packet)")
        }
    }
}
