import NIOConcurrencyHelpers
import NIOCore
@testable import Plexus
import PlexusWire
import XCTest

/// The app-developer behaviour of the binding (issue 14) against the scripted fake relay:
/// relay answers mapped to errors, cancellation, reconnect with restored subscriptions,
/// subscription endings, lifetime, and the `Codable` conveniences.
final class BindingBehaviourTests: XCTestCase {
    private let clock = ContinuousClock()

    // MARK: Relay answers (the contract with the relay)

    func testRelayAnswersMapToNoMembersRefusedAndFaults() async throws {
        let relay = try await FakeRelay { packet, peer in
            guard case .request(let id, _, let payload, _) = packet else { return }
            peer.send(.reply(id: id, result: .fault(payload)))  // the payload is the fault text
        }
        let client = try await Connection.connect(port: relay.port)
        let start = clock.now
        await assertThrows(.noMembers(cluster: "echo")) {
            try await client.request(#"plexus: no members: no member of cluster "echo" on any relay"#, to: "echo", timeout: .seconds(5))
        }
        let took = clock.now - start
        XCTAssertLessThan(took, .milliseconds(50), "no-members answer took \(took)")
        await assertThrows(.refused(reason: "relay is draining")) {
            try await client.request("plexus: refused: relay is draining", to: "echo", timeout: .seconds(5))
        }
        await assertThrows(.refused(reason: "service overloaded: queue full")) {
            try await client.request("plexus: service overloaded: queue full", to: "echo", timeout: .seconds(5))
        }
        await assertThrows(.remoteFault("plexus is great")) {
            try await client.request("plexus is great", to: "echo", timeout: .seconds(5))
        }
        XCTAssertTrue(PlexusError.noMembers(cluster: "echo").description.contains("\"echo\""))
        try await client.close()
        try await relay.shutdown()
    }

    // MARK: Cancellation

    func testCancelledRequestEndsAtOnceAndItsLateReplyIsDropped() async throws {
        let relay = try await FakeRelay()  // answers nothing
        let client = try await Connection.connect(port: relay.port)
        let pending = Task { try await client.request("never answered", to: "c", timeout: .seconds(30)) }
        await relay.waitUntil { $0.contains { if case .request = $0 { true } else { false } } }
        let cancelledAt = clock.now
        pending.cancel()
        do {
            _ = try await pending.value
            XCTFail("cancelled request returned a reply")
        } catch is CancellationError {
        } catch {
            XCTFail("expected CancellationError, got \(error)")
        }
        let took = clock.now - cancelledAt
        print("cancelled request returned \(took) after cancel()")
        XCTAssertLessThan(took, .milliseconds(10))
        // The late reply for id 0 is ignored; the next request (id 1) works.
        let peer = try XCTUnwrap(relay.lastPeer)
        peer.send(.reply(id: 0, result: .success(ByteBuffer("late"))))
        let next = Task { try await client.request("next", to: "c", timeout: .seconds(5)) }
        await relay.waitUntil { $0.filter { if case .request = $0 { true } else { false } }.count == 2 }
        peer.send(.reply(id: 1, result: .success(ByteBuffer("answer"))))
        let answer = try await next.value
        XCTAssertEqual(answer, "answer")
        // A task cancelled before it calls fails at once too.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await client.request("x", to: "c", timeout: .seconds(30))
        }
        do { _ = try await early.value; XCTFail("answered") } catch is CancellationError {} catch { XCTFail("\(error)") }
        try await client.close()
        try await relay.shutdown()
    }

    func testCancelledTunnelConstructionReceiveAndSendEndAtOnce() async throws {
        let relay = try await FakeRelay { packet, peer in
            if case .tunnelInit(let id, let cluster, _) = packet, String(buffer: cluster) == "open" {
                peer.send(.tunnelResult(id: id, chunkLimit: 65_536))
            }
        }
        let client = try await Connection.connect(port: relay.port)
        let construction = Task { try await client.tunnel(to: "silent", timeout: .seconds(30)) }
        await relay.waitUntil { $0.contains { if case .tunnelInit = $0 { true } else { false } } }
        var cancelledAt = clock.now
        construction.cancel()
        do { _ = try await construction.value; XCTFail("built") } catch is CancellationError {} catch { XCTFail("\(error)") }
        XCTAssertLessThan(clock.now - cancelledAt, .milliseconds(10))

        let tunnel = try await client.tunnel(to: "open", timeout: .seconds(5))
        let receive = Task { try await tunnel.receive(timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(20))  // let the receive start waiting (either order is correct)
        cancelledAt = clock.now
        receive.cancel()
        do { _ = try await receive.value; XCTFail("received") } catch is CancellationError {} catch { XCTFail("\(error)") }
        XCTAssertLessThan(clock.now - cancelledAt, .milliseconds(10))
        // The tunnel still works: a message sent by the relay is received by the next call.
        let tunnelID: UInt64 = 1
        relay.lastPeer?.send(.tunnelTransfer(id: tunnelID, sizeOrContinuation: 2, chunk: ByteBuffer("hi")))
        let message = try await tunnel.receive(timeout: .seconds(5))
        XCTAssertEqual(String(buffer: message), "hi")
        // The relay grants no allowance: a send waits until its task is cancelled.
        let send = Task { try await tunnel.send("never allowed") }
        try await Task.sleep(for: .milliseconds(20))  // let the send start waiting (either order is correct)
        cancelledAt = clock.now
        send.cancel()
        do { try await send.value; XCTFail("sent") } catch is CancellationError {} catch { XCTFail("\(error)") }
        XCTAssertLessThan(clock.now - cancelledAt, .milliseconds(10))
        XCTAssertFalse(relay.packets.contains { if case .tunnelTransfer = $0 { true } else { false } })
        try await client.close()
        try await relay.shutdown()
    }

    // MARK: Reconnect

    func testReconnectRestoresSubscriptionsAndReportsEachStep() async throws {
        let relay = try await FakeRelay()
        let client = try await Connection.connect(port: relay.port, reconnect: .init(initialDelay: .milliseconds(10)))
        let events = client.events()
        let subscription = try await client.subscribe(to: "news")
        await relay.waitUntil { $0.contains(.subscribe(topic: ByteBuffer("news"))) }
        let pending = Task { try await client.request("in flight", to: "c", timeout: .seconds(30)) }
        await relay.waitUntil { $0.contains { if case .request = $0 { true } else { false } } }
        let first = try XCTUnwrap(relay.lastPeer)

        first.close()  // the relay is lost
        await assertThrows(.connectionLost(reason: "end of stream without CLOSE")) { try await pending.value }
        await relay.waitUntil { $0.filter { $0 == .subscribe(topic: ByteBuffer("news")) }.count == 2 }
        let reconnected = await poll(within: .seconds(5)) { client.state == .connected }
        XCTAssertTrue(reconnected)
        let second = try XCTUnwrap(relay.lastPeer)
        XCTAssertFalse(second.channel === first.channel)
        second.send(.publish(topic: ByteBuffer("news"), event: ByteBuffer("after the restart")))
        var iterator = subscription.makeAsyncIterator()
        let event = try await iterator.next()
        XCTAssertEqual(event.map { String(buffer: $0) }, "after the restart")

        var seen: [ConnectionEvent] = []
        for await event in events {
            seen.append(event)
            if event == .reconnected { break }
        }
        XCTAssertEqual(seen.first, .disconnected(reason: "end of stream without CLOSE"))
        guard seen.count >= 3, case .reconnecting(attempt: 1, _) = seen[1] else { return XCTFail("events: \(seen)") }
        XCTAssertEqual(seen.last, .reconnected)
        try await client.close()
        XCTAssertEqual(client.state, .closed(error: nil))
        let end = try await iterator.next()
        XCTAssertNil(end, "close() ends a subscription normally")
        try await relay.shutdown()
    }

    func testWhileReconnectingCallsFailFastAndSubscriptionsWaitForTheRelay() async throws {
        let first = try await FakeRelay()
        let port = first.port
        let client = try await Connection.connect(port: port, reconnect: .init(initialDelay: .milliseconds(20), maximumDelay: .milliseconds(50)))
        try await first.shutdown()  // gone, and nobody listens on the port
        let reconnecting = await poll(within: .seconds(5)) { client.state == .reconnecting }
        XCTAssertTrue(reconnecting)
        let start = clock.now
        do {
            _ = try await client.request("x", to: "c", timeout: .seconds(10))
            XCTFail("a request went out while reconnecting")
        } catch PlexusError.connectionLost(let reason) {
            XCTAssertTrue(reason.hasSuffix("; reconnecting"), reason)
        }
        XCTAssertLessThan(clock.now - start, .milliseconds(50), "did not fail fast")
        do {
            try await client.publish("x", to: "t")
            XCTFail("published while reconnecting")
        } catch PlexusError.connectionLost {}
        let later = try await client.subscribe(to: "later")  // recorded now, sent when the relay is back

        let second = try await FakeRelay(port: port)
        await second.waitUntil { $0.contains(.subscribe(topic: ByteBuffer("later"))) }
        let back = await poll(within: .seconds(5)) { client.state == .connected }
        XCTAssertTrue(back)
        let peer = try XCTUnwrap(second.lastPeer)
        peer.send(.publish(topic: ByteBuffer("later"), event: ByteBuffer("hello again")))
        // Bounded: the event must arrive within 10 s, never hang the suite.
        let received = NIOLockedValueBox<String?>(nil)
        let reader = Task {
            var iterator = later.makeAsyncIterator()
            let event = try? await iterator.next()
            received.withLockedValue { $0 = (event ?? nil).map { String(buffer: $0) } ?? "(ended)" }
        }
        let arrived = await poll(within: .seconds(10)) { received.withLockedValue { $0 } != nil }
        reader.cancel()
        XCTAssertTrue(arrived, "the restored subscription got nothing within 10 s; state \(client.state)")
        XCTAssertEqual(received.withLockedValue { $0 }, "hello again")
        try await client.close()
        try await second.shutdown()
    }

    func testAServiceRegistersAgainAndALateReplyNeverCrossesConnections() async throws {
        let relay = try await FakeRelay()
        let handler = Echo(delay: .milliseconds(200))
        // One handler at a time: the request of the new connection runs after the stale one.
        let service = try await Connection.register(cluster: "svc", handler: handler, limits: .init(requestConcurrency: 1),
                                                    port: relay.port, reconnect: .init(initialDelay: .milliseconds(10)))
        let first = try XCTUnwrap(relay.lastPeer)
        first.send(.request(id: 5, payload: ByteBuffer("slow"), timeoutMilliseconds: 10_000))
        let running = await poll(within: .seconds(5)) { handler.calls == 1 }
        XCTAssertTrue(running)
        first.close()
        let registeredAgain = ClientPacket.initiate(version: ByteBuffer(WireConstants.protocolVersion), cluster: ByteBuffer("svc"))
        await relay.waitUntil { $0.filter { $0 == registeredAgain }.count == 2 }
        let lost = await poll(within: .seconds(5)) { handler.drops == ["end of stream without CLOSE"] }
        XCTAssertTrue(lost, "handleDrop: \(handler.drops)")
        // Requests on the new connection are served, after the stale one finished: whose reply
        // (id 5 of the lost connection) was dropped, not sent on the new connection.
        let second = try XCTUnwrap(relay.lastPeer)
        second.send(.request(id: 0, payload: ByteBuffer("fresh"), timeoutMilliseconds: 10_000))
        await relay.waitUntil { $0.contains(.reply(id: 0, outcome: .success(ByteBuffer("fresh")))) }
        XCTAssertEqual(handler.calls, 2)
        XCTAssertEqual(relay.packets.filter { if case .reply = $0 { true } else { false } }.count, 1, "\(relay.packets)")
        try await service.close()
        try await relay.shutdown()
    }

    func testWithReconnectOffASubscriptionThrowsOnLossAndEndsNormallyOnUnsubscribe() async throws {
        let relay = try await FakeRelay()
        let client = try await Connection.connect(port: relay.port, reconnect: .disabled)
        let kept = try await client.subscribe(to: "kept")
        let dropped = try await client.subscribe(to: "dropped")
        await relay.waitUntil { $0.contains(.subscribe(topic: ByteBuffer("dropped"))) }
        await dropped.unsubscribe()
        await relay.waitUntil { $0.contains(.unsubscribe(topic: ByteBuffer("dropped"))) }
        var droppedEvents = dropped.makeAsyncIterator()
        let none = try await droppedEvents.next()
        XCTAssertNil(none, "unsubscribe ends the sequence normally")
        await dropped.unsubscribe()  // again: nothing happens

        relay.lastPeer?.close()
        var keptEvents = kept.makeAsyncIterator()
        do {
            _ = try await keptEvents.next()
            XCTFail("a lost connection ended the subscription normally")
        } catch let error as PlexusError {
            XCTAssertEqual(error, .connectionLost(reason: "end of stream without CLOSE"))
        }
        XCTAssertEqual(client.state, .closed(error: .connectionLost(reason: "end of stream without CLOSE")))
        try await relay.shutdown()
    }

    func testReconnectGivesUpAfterItsAttempts() async throws {
        let relay = try await FakeRelay()
        let client = try await Connection.connect(port: relay.port, reconnect: .init(initialDelay: .milliseconds(5), maximumAttempts: 2))
        let subscription = try await client.subscribe(to: "t")
        try await relay.shutdown()  // closes the connection and stops listening
        // Bounded: the subscription must end (with the give-up) within 20 s, never hang the suite.
        let outcome = NIOLockedValueBox<String?>(nil)
        let waiter = Task {
            var iterator = subscription.makeAsyncIterator()
            do {
                _ = try await iterator.next()
                outcome.withLockedValue { $0 = "ended normally" }
            } catch PlexusError.connectionLost(let reason) {
                outcome.withLockedValue { $0 = reason }
            } catch {
                outcome.withLockedValue { $0 = "\(error)" }
            }
        }
        let ended = await poll(within: .seconds(20)) { outcome.withLockedValue { $0 } != nil }
        waiter.cancel()
        XCTAssertTrue(ended, "the subscription did not end within 20 s; connection state: \(client.state)")
        let reason = outcome.withLockedValue { $0 } ?? ""
        XCTAssertTrue(reason.hasPrefix("gave up after 2 reconnect attempts"), reason)
        XCTAssertEqual(client.state, .closed(error: try XCTUnwrap(client.state.closedError)))
        do {
            try await client.publish("x", to: "t")
            XCTFail("published on a connection that gave up")
        } catch PlexusError.connectionLost {}
    }

    // MARK: Lifetime

    func testReleasedConnectionClosesItsSocket() async throws {
        let relay = try await FakeRelay()
        do {
            _ = try await Connection.connect(port: relay.port)
        }
        let peer = try XCTUnwrap(relay.lastPeer)
        let closed = await poll(within: .seconds(5)) { !peer.channel.isActive }
        XCTAssertTrue(closed, "the relay still sees the released connection")
        XCTAssertEqual(relay.packets.last, .close)

        let reply = try await Connection.withConnection(port: relay.port) { connection in
            XCTAssertEqual(connection.state, .connected)
            return 42
        }
        XCTAssertEqual(reply, 42)
        await relay.waitUntil { $0.filter { $0 == .close }.count == 2 }
        try await relay.shutdown()
    }

    // MARK: Codable

    struct Greeting: Codable, Sendable, Equatable {
        var name: String
        var count: Int
    }

    func testCodableRequestPublishAndService() async throws {
        let relay = try await FakeRelay { packet, peer in
            guard case .request(let id, _, let payload, _) = packet else { return }
            peer.send(.reply(id: id, result: .success(payload)))  // echo
        }
        let client = try await Connection.connect(port: relay.port)
        let greeting = Greeting(name: "ada", count: 3)
        let echoed = try await client.request(greeting, to: "echo", as: Greeting.self, timeout: .seconds(5))
        XCTAssertEqual(echoed, greeting)

        let subscription = try await client.subscribe(to: "greetings")
        await relay.waitUntil { $0.contains(.subscribe(topic: ByteBuffer("greetings"))) }
        try await client.publish(greeting, to: "greetings")
        await relay.waitUntil { $0.contains(.publish(topic: ByteBuffer("greetings"), event: ByteBuffer(#"{"name":"ada","count":3}"#))) ||
            $0.contains(.publish(topic: ByteBuffer("greetings"), event: ByteBuffer(#"{"count":3,"name":"ada"}"#))) }
        relay.lastPeer?.send(.publish(topic: ByteBuffer("greetings"), event: try JSONMessageCoder().encode(greeting)))
        // Literals keep taking the raw overloads: one byte, not the JSON text "[1]".
        try await client.publish([1], to: "raw")
        await relay.waitUntil { $0.contains(.publish(topic: ByteBuffer("raw"), event: ByteBuffer(bytes: [1]))) }
        var decoded = subscription.decoded(as: Greeting.self).makeAsyncIterator()
        let first = try await decoded.next()
        XCTAssertEqual(first, greeting)
        try await client.close()
        try await relay.shutdown()

        let service = CodableService { (greeting: Greeting) in "hello \(greeting.name) ×\(greeting.count)" }
        let reply = try await service.handleRequest(try JSONMessageCoder().encode(greeting))
        XCTAssertEqual(try JSONMessageCoder().decode(String.self, from: reply), "hello ada ×3")
        do {
            _ = try await service.handleRequest(ByteBuffer("not json"))
            XCTFail("bad request decoded")
        } catch let fault as ServiceFault {
            XCTAssertTrue(fault.message.hasPrefix("bad request: cannot decode Greeting"), fault.message)
        }
    }

    // MARK: Pure parts

    func testBackoffGrowsIsCappedAndJittered() {
        let policy = ReconnectPolicy(initialDelay: .milliseconds(100), maximumDelay: .seconds(1), multiplier: 2, jitter: 0.2)
        XCTAssertEqual(policy.delay(beforeAttempt: 1, unit: 0.5), .milliseconds(100))
        XCTAssertEqual(policy.delay(beforeAttempt: 2, unit: 0.5), .milliseconds(200))
        XCTAssertEqual(policy.delay(beforeAttempt: 4, unit: 0.5), .milliseconds(800))
        XCTAssertEqual(policy.delay(beforeAttempt: 5, unit: 0.5), .seconds(1))
        XCTAssertEqual(policy.delay(beforeAttempt: 1000, unit: 0.5), .seconds(1))
        XCTAssertEqual(policy.delay(beforeAttempt: 1, unit: 0), .milliseconds(80))
        XCTAssertEqual(policy.delay(beforeAttempt: 1, unit: 1), .milliseconds(120))
        XCTAssertTrue(policy.allows(attempt: 1_000_000))
        XCTAssertFalse(ReconnectPolicy.disabled.allows(attempt: 1))
        let limited = ReconnectPolicy(maximumAttempts: 3)
        XCTAssertTrue(limited.allows(attempt: 3))
        XCTAssertFalse(limited.allows(attempt: 4))
    }

    func testPayloadOverTheProtocolLimitNamesTheLimit() {
        XCTAssertEqual(PlexusError.limitExceeded("request size in bytes", limit: 2_147_483_647).description,
                       "limit exceeded: request size in bytes may be at most 2147483647")
        XCTAssertEqual(PlexusError.forFault("plexus: refused", cluster: "c"), .refused(reason: "plexus: refused"))
        XCTAssertEqual(PlexusError.forFault("plexus: no members", cluster: "c"), .noMembers(cluster: "c"))
    }
}
