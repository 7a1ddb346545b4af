import NIOCore
@testable import Plexus
import PlexusWire
import XCTest

/// The binding's connection decisions without sockets, on virtual time: the pure
/// `ConnectionMachine` that `ConnectionCore` drives.
final class ConnectionMachineTests: XCTestCase {
    private let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
    private let grace = TimeAmount.seconds(2)

    private func machine(service: Bool = false, open: Bool = true) -> ConnectionMachine {
        var machine = ConnectionMachine(cluster: service ? "svc" : "", isService: service, answerGrace: grace, closeBound: .seconds(5))
        if open { XCTAssertEqual(machine.receive(.accept(version: ByteBuffer("v1.0-draft2"))), .handshakeAccepted) }
        return machine
    }

    private func request(_ machine: inout ConnectionMachine, _ ms: UInt64 = 100, at now: NIODeadline? = nil) throws -> UInt64 {
        try machine.startRequest(cluster: ByteBuffer("echo"), payload: ByteBuffer("p"), milliseconds: ms, now: now ?? t0).get().id
    }

    func testHandshakeAcceptDenyAndUnexpectedFirstPacket() {
        var plain = machine(open: false)
        XCTAssertEqual(plain.handshake(), .initiate(version: ByteBuffer(WireConstants.protocolVersion), cluster: ByteBuffer()))
        XCTAssertEqual(machine(service: true, open: false).handshake(),
                       .initiate(version: ByteBuffer(WireConstants.protocolVersion), cluster: ByteBuffer("svc")))
        XCTAssertFalse(plain.isOpen)
        XCTAssertEqual(plain.receive(.accept(version: ByteBuffer("anything"))), .handshakeAccepted)
        XCTAssertTrue(plain.isOpen)

        var denied = machine(open: false)
        guard case .end(let termination) = denied.receive(.deny(reason: ByteBuffer("full"))) else { return XCTFail() }
        XCTAssertEqual(termination.handshakeError, .refused(reason: "full"))
        XCTAssertFalse(termination.notifyOwner, "the opener is told, not the owner")

        var confused = machine(open: false)
        guard case .end(let violation) = confused.receive(.broadcast(message: ByteBuffer("x"))) else { return XCTFail() }
        guard case .protocolViolation? = violation.handshakeError else { return XCTFail("\(violation)") }
    }

    func testRequestIdsRepliesAndTheRelaysOwnAnswers() throws {
        var m = machine()
        XCTAssertEqual(try request(&m), 0)
        XCTAssertEqual(try request(&m), 1)
        XCTAssertEqual(try request(&m), 2)
        XCTAssertEqual(try request(&m), 3)
        XCTAssertEqual(m.receive(.reply(id: 0, result: .success(ByteBuffer("ok")))), .completeRequest(id: 0, .success(ByteBuffer("ok"))))
        XCTAssertEqual(m.receive(.reply(id: 1, result: .timedOut)), .completeRequest(id: 1, .failure(.timedOut)))
        XCTAssertEqual(m.receive(.reply(id: 2, result: .fault(ByteBuffer("plexus: no members: none")))),
                       .completeRequest(id: 2, .failure(.noMembers(cluster: "echo"))))
        XCTAssertEqual(m.receive(.reply(id: 3, result: .fault(ByteBuffer("boom")))), .completeRequest(id: 3, .failure(.remoteFault("boom"))))
        XCTAssertEqual(m.receive(.reply(id: 3, result: .success(ByteBuffer("again")))), .ignore, "answered once")
        XCTAssertEqual(m.receive(.reply(id: 99, result: .success(ByteBuffer("stray")))), .ignore)
        // A cancelled request's late reply is dropped.
        let cancelled = try request(&m)
        XCTAssertTrue(m.cancelRequest(id: cancelled))
        XCTAssertFalse(m.cancelRequest(id: cancelled))
        XCTAssertEqual(m.receive(.reply(id: cancelled, result: .success(ByteBuffer("late")))), .ignore)
        XCTAssertEqual(m.pendingRequestCount, 0)
    }

    func testLocalDeadlinesOnVirtualTime() throws {
        var m = machine()
        let early = try request(&m, 100)
        let late = try request(&m, 1_000)
        let tunnel = try m.startTunnel(cluster: ByteBuffer("echo"), milliseconds: 500, now: t0).get()
        XCTAssertEqual(tunnel.deadline, t0 + .milliseconds(500) + grace)

        var expiry = m.expire(now: t0 + .milliseconds(100) + grace - .nanoseconds(1))
        XCTAssertEqual(expiry.timedOutRequests, [])
        XCTAssertEqual(expiry.next, t0 + .milliseconds(100) + grace)
        expiry = m.expire(now: t0 + .milliseconds(100) + grace)
        XCTAssertEqual(expiry.timedOutRequests, [early])
        XCTAssertEqual(expiry.next, t0 + .milliseconds(500) + grace)
        expiry = m.expire(now: t0 + .seconds(10))
        XCTAssertEqual(expiry.timedOutRequests, [late])
        XCTAssertEqual(expiry.timedOutTunnelConstructions, [tunnel.id])
        XCTAssertNil(expiry.next)
        // A reply after the local timer gave up is ignored; a late tunnel is released.
        XCTAssertEqual(m.receive(.reply(id: late, result: .success(ByteBuffer("late")))), .ignore)
        XCTAssertEqual(m.receive(.tunnelResult(id: tunnel.id, chunkLimit: 1024)), .write(.tunnelClose(id: tunnel.id)))
    }

    func testTunnelConstructionOffersAndPacketsForKnownTunnelsOnly() throws {
        var client = machine()
        let built = try client.startTunnel(cluster: ByteBuffer("echo"), milliseconds: 500, now: t0).get()
        XCTAssertEqual(built.packet, .tunnelInit(id: 0, cluster: ByteBuffer("echo"), timeoutMilliseconds: 500))
        let allow = ClientPacket.tunnelAllow(id: 0, allowance: UInt64(WireConstants.bindingTunnelBuffer))
        XCTAssertEqual(client.receive(.tunnelResult(id: 0, chunkLimit: 4096)), .tunnelBuilt(id: 0, chunkLimit: 4096, allow: allow))
        XCTAssertEqual(client.receive(.tunnelAllow(id: 0, allowance: 10)), .tunnelAllow(id: 0, bytes: 10))
        XCTAssertEqual(client.receive(.tunnelAllow(id: 7, allowance: 10)), .ignore)
        XCTAssertEqual(client.receive(.tunnelTransfer(id: 7, sizeOrContinuation: 1, chunk: ByteBuffer("x"))), .ignore)
        XCTAssertEqual(client.receive(.tunnelClose(id: 0, reason: ByteBuffer())), .tunnelClosed(id: 0, reason: ""))
        XCTAssertEqual(client.receive(.tunnelClose(id: 0, reason: ByteBuffer())), .ignore)
        let refused = try client.startTunnel(cluster: ByteBuffer("none"), milliseconds: 500, now: t0).get()
        XCTAssertEqual(client.receive(.tunnelResult(id: refused.id, chunkLimit: nil)), .tunnelRefused(id: refused.id, .timedOut))
        let cancelled = try client.startTunnel(cluster: ByteBuffer("echo"), milliseconds: 500, now: t0).get()
        XCTAssertTrue(client.cancelTunnel(id: cancelled.id))
        XCTAssertEqual(client.receive(.tunnelResult(id: cancelled.id, chunkLimit: 1)), .write(.tunnelClose(id: cancelled.id)))
        guard case .end = client.receive(.tunnelOffer(buildID: 5, chunkLimit: 10)) else { return XCTFail("offer to a plain client") }

        var service = machine(service: true)
        let started = try service.startTunnel(cluster: ByteBuffer("x"), milliseconds: 1, now: t0).get()
        XCTAssertEqual(started.id, 0)
        // Inbound and outbound tunnels share one id counter.
        XCTAssertEqual(service.receive(.tunnelOffer(buildID: 5, chunkLimit: 10)), .tunnelOffered(
            tunnelID: 1, chunkLimit: 10, confirm: .tunnelConfirm(buildID: 5, tunnelID: 1),
            allow: .tunnelAllow(id: 1, allowance: UInt64(WireConstants.bindingTunnelBuffer))))
        guard case .end(let zero) = service.receive(.tunnelResult(id: 0, chunkLimit: 0)) else { return XCTFail("chunk limit 0") }
        XCTAssertEqual(zero.failedTunnelConstructions, [0])
        XCTAssertEqual(zero.closedTunnels, [1])
    }

    func testPlainClientRejectsServicePacketsAndServiceGetsThem() {
        var service = machine(service: true)
        XCTAssertEqual(service.receive(.broadcast(message: ByteBuffer("b"))), .deliverBroadcast(ByteBuffer("b")))
        XCTAssertEqual(service.receive(.request(id: 9, payload: ByteBuffer("r"), timeoutMilliseconds: 50)),
                       .deliverRequest(id: 9, payload: ByteBuffer("r"), timeoutMilliseconds: 50))
        XCTAssertEqual(service.receive(.publish(topic: ByteBuffer("t"), event: ByteBuffer("e"))),
                       .deliverEvent(topic: ByteBuffer("t"), event: ByteBuffer("e")))
        var plain = machine()
        guard case .end(let termination) = plain.receive(.request(id: 9, payload: ByteBuffer("r"), timeoutMilliseconds: 50)) else {
            return XCTFail("REQUEST to a plain client")
        }
        XCTAssertEqual(termination.ending, .lost("protocol violation: REQUEST delivered to a plain client"))
        XCTAssertFalse(termination.reportLoss, "a plain client has no service to tell")
        XCTAssertEqual(plain.receive(.publish(topic: ByteBuffer("t"), event: ByteBuffer("e"))), .ignore, "closed: nothing more")
    }

    func testGracefulCloseAndItsBound() throws {
        var m = machine(service: true)
        let pending = try request(&m, 60_000)
        let deadline = t0 + .seconds(5)
        XCTAssertEqual(m.close(now: t0), .sendClose(.close, deadline: deadline))
        XCTAssertEqual(m.close(now: t0), .wait)
        XCTAssertFalse(m.isOpen)
        XCTAssertEqual(m.closedError, .closed(reason: "connection closing"))
        XCTAssertEqual(m.expire(now: deadline - .nanoseconds(1)).next, deadline)
        guard case .end(let termination) = m.receive(.close(reason: ByteBuffer())) else { return XCTFail() }
        XCTAssertEqual(termination.ending, .closedLocally)
        XCTAssertTrue(termination.closeSucceeded)
        XCTAssertFalse(termination.reportLoss)
        XCTAssertEqual(termination.failedRequests, [pending])
        XCTAssertEqual(m.close(now: t0), .alreadyClosed(nil))
        XCTAssertEqual(m.startRequest(cluster: ByteBuffer("c"), payload: ByteBuffer("p"), milliseconds: 1, now: t0).map(\.id),
                       .failure(.closed(reason: "connection closed")))

        var silent = machine(service: true)
        _ = silent.close(now: t0)
        let expiry = silent.expire(now: t0 + .seconds(5))
        let bound = try XCTUnwrap(expiry.termination)
        XCTAssertEqual(bound.ending, ConnectionMachine.Ending(error: .connectionLost(reason: "no CLOSE from the relay within 5.0 seconds"),
                                                               byLocalClose: true), "a close cut short never reconnects")
        XCTAssertFalse(bound.closeSucceeded)
        XCTAssertTrue(bound.reportLoss)

        var cut = machine()
        _ = cut.close(now: t0)
        let eof = try XCTUnwrap(cut.channelClosed())
        XCTAssertTrue(eof.ending.byLocalClose)
        XCTAssertEqual(eof.ending.error, .connectionLost(reason: "end of stream without CLOSE"))
    }

    func testLossesEndEverythingPendingOnce() throws {
        var m = machine(service: true)
        let first = try request(&m), second = try request(&m)
        let construction = try m.startTunnel(cluster: ByteBuffer("x"), milliseconds: 9, now: t0).get().id
        _ = m.receive(.tunnelOffer(buildID: 1, chunkLimit: 64))
        guard case .end(let termination) = m.receive(.close(reason: ByteBuffer("relay shutting down"))) else { return XCTFail() }
        XCTAssertEqual(termination.ending, .lost("the relay closed the connection: relay shutting down"))
        XCTAssertEqual(termination.failedRequests, [first, second])
        XCTAssertEqual(termination.failedTunnelConstructions, [construction])
        XCTAssertEqual(termination.closedTunnels, [construction + 1])
        XCTAssertTrue(termination.reportLoss)
        XCTAssertTrue(termination.notifyOwner)
        XCTAssertNil(m.channelClosed(), "ends once")
        XCTAssertNil(m.failed("late error"))
        XCTAssertEqual(m.close(now: t0), .alreadyClosed(.connectionLost(reason: "the relay closed the connection: relay shutting down")))

        var released = machine()
        let (packet, ending) = released.abandon()
        XCTAssertEqual(packet, .close)
        XCTAssertEqual(ending?.ending, .released)
    }
}
