import NIOConcurrencyHelpers
import NIOCore
@testable import Plexus
import PlexusWire
import XCTest

/// Binding tests against a scripted fake relay: the wire traffic the binding produces and how it
/// maps the relay's answers to results and errors.
final class FakeRelayTests: XCTestCase {
    private let version = ByteBuffer(WireConstants.protocolVersion)

    func testHandshakeAndGracefulClose() async throws {
        let relay = try await FakeRelay()
        let connection = try await Connection.connect(port: relay.port)
        try await connection.close()
        XCTAssertEqual(relay.packets, [.initiate(version: version, cluster: ByteBuffer()), .close])
        // A second close returns at once; operations fail with .closed.
        try await connection.close()
        await assertThrows(.closed(reason: "connection closed")) { try await connection.publish("x", to: "t") }
        try await relay.shutdown()
    }

    func testRegisterNamesTheCluster() async throws {
        let relay = try await FakeRelay()
        let service = try await Connection.register(cluster: "svc", handler: Echo(), port: relay.port)
        XCTAssertEqual(relay.packets.first, .initiate(version: version, cluster: ByteBuffer("svc")))
        try await service.close()
        try await relay.shutdown()
    }

    func testDenyFailsTheConnect() async throws {
        let relay = try await FakeRelay(deny: "Unsupported protocol. Client: x. Iris: v1.0-draft2.")
        await assertThrows(.refused(reason: "Unsupported protocol. Client: x. Iris: v1.0-draft2.")) {
            try await Connection.connect(port: relay.port)
        }
        try await relay.shutdown()
    }

    func testUnexpectedHandshakeAnswerIsAViolation() async throws {
        let relay = try await FakeRelay(firstPacket: .broadcast(message: ByteBuffer("x")))
        do {
            _ = try await Connection.connect(port: relay.port)
            XCTFail("connect succeeded")
        } catch PlexusError.protocolViolation {
        } catch {
            XCTFail("unexpected \(error)")
        }
        try await relay.shutdown()
    }

    func testConnectionRefused() async throws {
        let relay = try await FakeRelay()
        let port = relay.port
        try await relay.shutdown()
        do {
            _ = try await Connection.connect(port: port)
            XCTFail("connect succeeded")
        } catch PlexusError.connectionFailed {
        } catch {
            XCTFail("unexpected \(error)")
        }
    }

    func testRequestOutcomesMapToResultsAndErrors() async throws {
        let relay = try await FakeRelay { packet, peer in
            guard case .request(let id, _, let payload, _) = packet else { return }
            switch String(buffer: payload) {
            case "ok": peer.send(.reply(id: id, result: .success(ByteBuffer("pong"))))
            case "empty": peer.send(.reply(id: id, result: .success(ByteBuffer())))
            case "fail": peer.send(.reply(id: id, result: .fault(ByteBuffer("failure 7"))))
            default: peer.send(.reply(id: id, result: .timedOut))
            }
        }
        let client = try await Connection.connect(port: relay.port)
        let pong = try await client.request("ok", to: "c", timeout: .seconds(1))
        XCTAssertEqual(pong, "pong")
        let empty = try await client.request(ByteBuffer("empty"), to: "c", timeout: .seconds(1))
        XCTAssertEqual(empty.readableBytes, 0)
        await assertThrows(.remoteFault("failure 7")) { try await client.request("fail", to: "c", timeout: .seconds(1)) }
        await assertThrows(.timedOut) { try await client.request("late", to: "c", timeout: .microseconds(12_500)) }
        // Ids count up per connection from 0; 12.5 ms travels as 12.
        let requests = relay.packets.compactMap { packet -> (UInt64, UInt64)? in
            if case .request(let id, _, _, let ms) = packet { return (id, ms) }
            return nil
        }
        XCTAssertEqual(requests.map(\.0), [0, 1, 2, 3])
        XCTAssertEqual(requests.map(\.1), [1000, 1000, 1000, 12])
        // A REPLY for an id nobody waits on is ignored; the connection keeps working.
        relay.lastPeer?.send(.reply(id: 99, result: .success(ByteBuffer("stray"))))
        let again = try await client.request("ok", to: "c", timeout: .seconds(1))
        XCTAssertEqual(again, "pong")
        try await client.close()
        try await relay.shutdown()
    }

    func testLocalValidationSendsNothing() async throws {
        let relay = try await FakeRelay()
        let client = try await Connection.connect(port: relay.port)
        await assertThrows(.invalidArgument("empty cluster name")) { try await client.request("x", to: "", timeout: .seconds(1)) }
        await assertThrows(.invalidArgument("empty request")) { try await client.request("", to: "c", timeout: .seconds(1)) }
        await assertThrows(.invalidArgument("timeout 0.0005 seconds is below 1 ms")) {
            try await client.request("x", to: "c", timeout: .microseconds(500))
        }
        await assertThrows(.invalidArgument("empty broadcast message")) { try await client.broadcast("", to: "c") }
        await assertThrows(.invalidArgument("empty topic name")) { try await client.publish("x", to: "") }
        await assertThrows(.invalidArgument("empty event")) { try await client.publish("", to: "t") }
        let long = String(repeating: "n", count: 256) // OverlayLimits.nameBytes: 1…255, as every relay enforces
        await assertThrows(.limitExceeded("topic name size in bytes (256)", limit: 255)) { _ = try await client.subscribe(to: long) }
        await assertThrows(.limitExceeded("cluster name size in bytes (256)", limit: 255)) {
            try await client.request("x", to: long, timeout: .seconds(1))
        }
        await assertThrows(.invalidArgument("not subscribed to t")) { try await client.unsubscribe(from: "t") }
        do {
            _ = try await client.tunnel(to: "c", timeout: .seconds(3_000_000))
            XCTFail("huge timeout accepted")
        } catch PlexusError.invalidArgument {}
        _ = try await client.subscribe(to: "t")
        await assertThrows(.invalidArgument("already subscribed to t")) { try await client.subscribe(to: "t") }
        try await client.unsubscribe(from: "t")
        try await client.close()
        XCTAssertEqual(relay.packets, [
            .initiate(version: version, cluster: ByteBuffer()),
            .subscribe(topic: ByteBuffer("t")), .unsubscribe(topic: ByteBuffer("t")), .close,
        ])
        try await relay.shutdown()
    }

    func testEventsArriveInOrderAndMemoryLimitDrops() async throws {
        let relay = try await FakeRelay()
        let client = try await Connection.connect(port: relay.port)
        let subscription = try await client.subscribe(to: "t", limits: .init(eventMemoryBytes: 1000))
        await relay.waitUntil { $0.contains(.subscribe(topic: ByteBuffer("t"))) }
        let peer = try XCTUnwrap(relay.lastPeer)
        // 5 events of 300 bytes: the 4th exceeds 1000 queued bytes and is dropped (nobody reads yet).
        for i in 0..<5 {
            peer.send(.publish(topic: ByteBuffer("t"), event: ByteBuffer(String(repeating: "\(i)", count: 300))))
        }
        peer.send(.publish(topic: ByteBuffer("other"), event: ByteBuffer("ignored")))
        // Wait until the queue holds the three accepted ones (bounded), then read them in order.
        let polled = await poll(within: .seconds(5)) { subscription.queue.queuedBytes == 900 }
        XCTAssertTrue(polled)
        try await Task.sleep(for: .milliseconds(50))  // the dropped ones would have arrived by now
        peer.send(.publish(topic: ByteBuffer("t"), event: ByteBuffer("last")))
        var received: [String] = []
        for try await event in subscription {
            received.append(String(String(buffer: event).prefix(1)))
            if received.count == 4 { break }
        }
        XCTAssertEqual(received, ["0", "1", "2", "l"])
        try await client.close()
        try await relay.shutdown()
    }

    func testServiceLimitsExpiryAndReplies() async throws {
        let relay = try await FakeRelay()
        let handler = Echo(delay: .milliseconds(25))
        let service = try await Connection.register(
            cluster: "svc", handler: handler,
            limits: .init(requestConcurrency: 1, requestMemoryBytes: 1), port: relay.port)
        let peer = try XCTUnwrap(relay.lastPeer)
        // With the single worker idle, request 10 (1 s to live) runs for 25 ms; request 11 (1 ms
        // to live) waits behind it and expires in the queue. (Request 10 once had 1 ms too, and on
        // a loaded machine it could expire before the worker picked it up.)
        peer.send(
            .request(id: 10, payload: ByteBuffer("a"), timeoutMilliseconds: 1000),
            .request(id: 11, payload: ByteBuffer("b"), timeoutMilliseconds: 1))
        // Memory limit 1: a 2-byte request is dropped, never answered.
        peer.send(.request(id: 12, payload: ByteBuffer("cc"), timeoutMilliseconds: 1000))
        try await Task.sleep(for: .milliseconds(150))
        peer.send(.request(id: 13, payload: ByteBuffer("d"), timeoutMilliseconds: 1000))
        await relay.waitUntil { $0.contains(.reply(id: 13, outcome: .success(ByteBuffer("d")))) }
        let replies = relay.packets.compactMap { packet -> UInt64? in
            if case .reply(let id, _) = packet { return id }
            return nil
        }
        XCTAssertEqual(replies, [10, 13])
        XCTAssertEqual(handler.calls, 2)
        try await service.close()
        try await relay.shutdown()
    }

    func testHandlerErrorBecomesFaultText() async throws {
        let relay = try await FakeRelay()
        let service = try await Connection.register(cluster: "svc", handler: Failing(), port: relay.port)
        relay.lastPeer?.send(.request(id: 5, payload: ByteBuffer("failure 3"), timeoutMilliseconds: 1000))
        await relay.waitUntil { $0.contains(.reply(id: 5, outcome: .fault(ByteBuffer("failure 3")))) }
        try await service.close()
        try await relay.shutdown()
    }

    func testTunnelChunkingAllowanceAndReassembly() async throws {
        let relay = try await FakeRelay { packet, peer in
            switch packet {
            case .tunnelInit(let id, _, _):
                peer.send(.tunnelResult(id: id, chunkLimit: 4), .tunnelAllow(id: id, allowance: 8))
            case .tunnelClose(let id):
                peer.send(.tunnelClose(id: id, reason: ByteBuffer()))
            default: break
            }
        }
        let client = try await Connection.connect(port: relay.port)
        let tunnel = try await client.tunnel(to: "c", timeout: .seconds(1))
        await relay.waitUntil { $0.contains(.tunnelAllow(id: 0, allowance: 67_108_864)) }
        let peer = try XCTUnwrap(relay.lastPeer)

        // 10 bytes, L = 4, allowance 8: two chunks go, the third waits for allowance.
        let send = Task { try await tunnel.send("abcdefghij", timeout: .seconds(5)) }
        await relay.waitUntil { $0.contains(.tunnelTransfer(id: 0, sizeOrContinuation: 0, chunk: ByteBuffer("efgh"))) }
        XCTAssertTrue(relay.packets.contains(.tunnelTransfer(id: 0, sizeOrContinuation: 10, chunk: ByteBuffer("abcd"))))
        try await Task.sleep(for: .milliseconds(30))
        XCTAssertFalse(relay.packets.contains(.tunnelTransfer(id: 0, sizeOrContinuation: 0, chunk: ByteBuffer("ij"))))
        peer.send(.tunnelAllow(id: 0, allowance: 1))
        try await Task.sleep(for: .milliseconds(30))
        XCTAssertFalse(relay.packets.contains(.tunnelTransfer(id: 0, sizeOrContinuation: 0, chunk: ByteBuffer("ij"))))
        peer.send(.tunnelAllow(id: 0, allowance: 1))
        try await send.value
        await relay.waitUntil { $0.contains(.tunnelTransfer(id: 0, sizeOrContinuation: 0, chunk: ByteBuffer("ij"))) }

        // No allowance left: a send times out.
        await assertThrows(.timedOut) { try await tunnel.send("xyz", timeout: .milliseconds(20)) }

        // Reassembly, grant per consumed message, discarded partial re-granted.
        peer.send(
            .tunnelTransfer(id: 0, sizeOrContinuation: 6, chunk: ByteBuffer("abc")),
            .tunnelTransfer(id: 0, sizeOrContinuation: 0, chunk: ByteBuffer("def")),
            .tunnelTransfer(id: 0, sizeOrContinuation: 10, chunk: ByteBuffer("123")),
            .tunnelTransfer(id: 0, sizeOrContinuation: 2, chunk: ByteBuffer("xy")),
            .tunnelTransfer(id: 7, sizeOrContinuation: 2, chunk: ByteBuffer("??")))  // unknown tunnel: ignored
        let first = try await tunnel.receive(timeout: .seconds(5))
        XCTAssertEqual(String(buffer: first), "abcdef")
        let second = try await tunnel.receive(timeout: .seconds(5))
        XCTAssertEqual(String(buffer: second), "xy")
        await relay.waitUntil { $0.contains(.tunnelAllow(id: 0, allowance: 2)) }
        let grants = relay.packets.compactMap { packet -> UInt64? in
            if case .tunnelAllow(0, let n) = packet { return n }
            return nil
        }
        // The discarded partial (3) is granted on arrival, the messages (6, 2) when taken.
        XCTAssertEqual(grants.first, 67_108_864)
        XCTAssertEqual(grants.dropFirst().sorted(), [2, 3, 6])
        await assertThrows(.timedOut) { try await tunnel.receive(timeout: .milliseconds(20)) }

        // A queued message survives the close; then receive throws .closed.
        peer.send(.tunnelTransfer(id: 0, sizeOrContinuation: 1, chunk: ByteBuffer("z")))
        try await Task.sleep(for: .milliseconds(30))
        try await tunnel.close()
        XCTAssertTrue(relay.packets.contains(.tunnelClose(id: 0)))
        let queued = try await tunnel.receive(timeout: .seconds(1))
        XCTAssertEqual(String(buffer: queued), "z")
        await assertThrows(.closed(reason: "tunnel closed")) { try await tunnel.receive(timeout: .seconds(1)) }
        await assertThrows(.closed(reason: "tunnel closed")) { try await tunnel.send("late") }
        try await client.close()
        try await relay.shutdown()
    }

    func testTunnelConstructionTimeoutAndIdCounter() async throws {
        let relay = try await FakeRelay { packet, peer in
            if case .tunnelInit(let id, _, _) = packet { peer.send(.tunnelResult(id: id, chunkLimit: nil)) }
        }
        let client = try await Connection.connect(port: relay.port)
        await assertThrows(.timedOut) { try await client.tunnel(to: "c", timeout: .milliseconds(100)) }
        await assertThrows(.timedOut) { try await client.tunnel(to: "c", timeout: .milliseconds(100)) }
        XCTAssertEqual(relay.packets.dropFirst(), [
            .tunnelInit(id: 0, cluster: ByteBuffer("c"), timeoutMilliseconds: 100),
            .tunnelInit(id: 1, cluster: ByteBuffer("c"), timeoutMilliseconds: 100),
        ])
        try await client.close()
        try await relay.shutdown()
    }

    func testInboundTunnelOfferIsConfirmedAndGranted() async throws {
        let relay = try await FakeRelay()
        let handler = Echo()
        let service = try await Connection.register(cluster: "svc", handler: handler, port: relay.port)
        relay.lastPeer?.send(.tunnelOffer(buildID: 42, chunkLimit: 65_536))
        await relay.waitUntil { $0.contains(.tunnelAllow(id: 0, allowance: 67_108_864)) }
        XCTAssertEqual(Array(relay.packets.dropFirst()), [
            .tunnelConfirm(buildID: 42, tunnelID: 0), .tunnelAllow(id: 0, allowance: 67_108_864),
        ])
        try await service.close()
        try await relay.shutdown()
    }

    func testCloseFailsPendingOperations() async throws {
        let relay = try await FakeRelay { packet, peer in
            if case .tunnelInit(let id, _, _) = packet { peer.send(.tunnelResult(id: id, chunkLimit: 65_536)) }
        }
        let client = try await Connection.connect(port: relay.port)
        let tunnel = try await client.tunnel(to: "c", timeout: .seconds(1))
        let request = Task { try await client.request("never answered", to: "c", timeout: .seconds(10)) }
        let receive = Task { try await tunnel.receive() }
        await relay.waitUntil { $0.contains { if case .request = $0 { true } else { false } } }
        try await client.close()
        await assertThrows(.closed(reason: "connection closed")) { try await request.value }
        await assertThrows(.closed(reason: "connection closed")) { try await receive.value }
        try await relay.shutdown()
    }

    func testDropIsReportedToTheService() async throws {
        let relay = try await FakeRelay()
        let handler = Echo()
        let service = try await Connection.register(cluster: "svc", handler: handler, port: relay.port, reconnect: .disabled)
        relay.lastPeer?.send(.close(reason: ByteBuffer("relay shutting down")))
        let lost = "the relay closed the connection: relay shutting down"
        let polled = await poll(within: .seconds(5)) { handler.drops == [lost] }
        XCTAssertTrue(polled)
        await assertThrows(.connectionLost(reason: lost)) { try await service.broadcast("x", to: "c") }
        XCTAssertEqual(service.state, .closed(error: .connectionLost(reason: lost)))

        let second = try await Connection.register(cluster: "svc", handler: handler, port: relay.port, reconnect: .disabled)
        relay.lastPeer?.close()  // EOF without CLOSE
        let polled2 = await poll(within: .seconds(5)) { handler.drops.count == 2 }
        XCTAssertTrue(polled2)
        XCTAssertEqual(handler.drops.last, "end of stream without CLOSE")
        await assertThrows(.connectionLost(reason: "end of stream without CLOSE")) { try await second.close() }
        try await relay.shutdown()
    }

    func testCloseWithoutTheRelaysCloseIsBounded() async throws {
        // Not waiting the full 5 s bound here would need an injectable bound; instead check that a
        // relay that answers CLOSE with EOF counts as a drop.
        let relay = try await FakeRelay(answerClose: false) { packet, peer in
            if case .close = packet { peer.close() }
        }
        let handler = Echo()
        let service = try await Connection.register(cluster: "svc", handler: handler, port: relay.port)
        await assertThrows(.connectionLost(reason: "end of stream without CLOSE")) { try await service.close() }
        let polled = await poll(within: .seconds(5)) { handler.drops.count == 1 }
        XCTAssertTrue(polled)
        try await relay.shutdown()
    }
}

/// Echo service that counts calls and records drops.
final class Echo: ServiceHandler {
    private let state = NIOLockedValueBox((calls: 0, drops: [String](), broadcasts: [ByteBuffer]()))
    let delay: Duration?
    init(delay: Duration? = nil) { self.delay = delay }

    var calls: Int { state.withLockedValue { $0.calls } }
    var drops: [String] { state.withLockedValue { $0.drops } }
    var broadcasts: [ByteBuffer] { state.withLockedValue { $0.broadcasts } }

    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer {
        state.withLockedValue { $0.calls += 1 }
        if let delay { try? await Task.sleep(for: delay) }
        return request
    }

    func handleBroadcast(_ message: ByteBuffer) async {
        state.withLockedValue { $0.broadcasts.append(message) }
        if let delay { try? await Task.sleep(for: delay) }
    }

    func handleTunnel(_ tunnel: Tunnel) async {
        while let message = try? await tunnel.receive() {
            do { try await tunnel.send(message, timeout: .seconds(10)) } catch { break }
        }
        try? await tunnel.close()
    }

    func handleDrop(reason: String) async {
        state.withLockedValue { $0.drops.append(reason) }
    }
}

/// Service whose handler fails with the request text.
struct Failing: ServiceHandler {
    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer {
        throw ServiceFault(String(buffer: request))
    }
}
