import NIOCore
@testable import PlexusRelayCore
import PlexusWire
import XCTest

/// Tunnel construction, transfer and close in the core, on virtual time.
final class CoreTunnelTests: XCTestCase {
    /// Builds a tunnel: initiator `c` id 0, acceptor `a` id 1 (build id 0).
    private func linked(_ configure: (inout CoreConfiguration) -> Void = { _ in }) -> (CoreHarness, ConnectionID, ConnectionID) {
        var h = CoreHarness(configure)
        let a = h.connect("svc"), c = h.connect(nil)
        XCTAssertEqual(h.receive(.tunnelInit(id: 0, cluster: s("svc"), timeoutMilliseconds: 1000), from: c),
                       [p(a, .tunnelOffer(buildID: 0, chunkLimit: UInt64(h.core.configuration.chunkLimit)))])
        let window = UInt64(h.core.configuration.tunnelWindow)
        XCTAssertEqual(h.receive(.tunnelConfirm(buildID: 0, tunnelID: 1), from: a), [
            p(a, .tunnelAllow(id: 1, allowance: window)),
            p(c, .tunnelResult(id: 0, chunkLimit: UInt64(h.core.configuration.chunkLimit))),
            p(c, .tunnelAllow(id: 0, allowance: window)),
        ])
        return (h, a, c)
    }

    func testConstructionAndTransferBothWays() {
        var (h, a, c) = linked()
        XCTAssertEqual(h.receive(.tunnelTransfer(id: 0, sizeOrContinuation: 2, chunk: s("hi")), from: c), [])
        XCTAssertEqual(h.receive(.tunnelAllow(id: 1, allowance: 64 << 20), from: a),
                       [p(a, .tunnelTransfer(id: 1, sizeOrContinuation: 2, chunk: s("hi"))), p(c, .tunnelAllow(id: 0, allowance: 2))])
        h.receive(.tunnelAllow(id: 0, allowance: 64 << 20), from: c)
        XCTAssertEqual(h.receive(.tunnelTransfer(id: 1, sizeOrContinuation: 3, chunk: s("yes")), from: a),
                       [p(c, .tunnelTransfer(id: 0, sizeOrContinuation: 3, chunk: s("yes"))), p(a, .tunnelAllow(id: 1, allowance: 3))])
        XCTAssertEqual(h.core.statistics.traffic.tunnelBytesIn, 5, "2 + 3 payload bytes from clients")
        XCTAssertEqual(h.core.statistics.traffic.tunnelBytesOut, 5, "the same bytes delivered to clients")
    }

    func testZeroTimeoutAndNoMember() {
        var h = CoreHarness()
        let c = h.connect(nil)
        XCTAssertEqual(h.receive(.tunnelInit(id: 4, cluster: s("svc"), timeoutMilliseconds: 0), from: c), [p(c, .tunnelResult(id: 4, chunkLimit: nil))])
        // No member: answered (timed out, the only failure v1 can express) at once, not at the deadline.
        XCTAssertEqual(h.receive(.tunnelInit(id: 5, cluster: s("svc"), timeoutMilliseconds: 100), from: c),
                       [p(c, .tunnelResult(id: 5, chunkLimit: nil))])
        XCTAssertEqual(h.advance(milliseconds: 100), [])
    }

    func testInitiatorDeadlineThenLateConfirmationIsClosed() {
        var h = CoreHarness()
        let a = h.connect("svc"), c = h.connect(nil)
        h.receive(.tunnelInit(id: 0, cluster: s("svc"), timeoutMilliseconds: 100), from: c)
        XCTAssertEqual(h.advance(milliseconds: 100), [p(c, .tunnelResult(id: 0, chunkLimit: nil))])
        XCTAssertEqual(h.receive(.tunnelConfirm(buildID: 0, tunnelID: 7), from: a),
                       [p(a, .tunnelClose(id: 7, reason: s("plexus: tunnel offer expired or unknown")))])
        XCTAssertNotNil(h.core.connections[a], "the acceptor's connection is never dropped")
        XCTAssertEqual(h.receive(.tunnelConfirm(buildID: 42, tunnelID: 8), from: a),
                       [p(a, .tunnelClose(id: 8, reason: s("plexus: tunnel offer expired or unknown")))])
    }

    func testAcceptorConfirmationDeadlineShorterThanInitiatorTimeout() {
        var h = CoreHarness { $0.acceptorConfirmTimeout = .seconds(3) }
        let a = h.connect("svc"), c = h.connect(nil)
        h.receive(.tunnelInit(id: 0, cluster: s("svc"), timeoutMilliseconds: 10_000), from: c)
        XCTAssertEqual(h.advance(milliseconds: 2999), [])
        XCTAssertEqual(h.advance(milliseconds: 1), [p(c, .tunnelResult(id: 0, chunkLimit: nil))])
        XCTAssertEqual(h.advance(milliseconds: 10_000), [])
        XCTAssertNotNil(h.core.connections[a])
    }

    func testSelfTunnelBothEndsOnOneConnection() {
        var h = CoreHarness()
        let a = h.connect("svc")
        h.receive(.tunnelInit(id: 0, cluster: s("svc"), timeoutMilliseconds: 1000), from: a)
        XCTAssertEqual(h.receive(.tunnelConfirm(buildID: 0, tunnelID: 1), from: a).count, 3)
        h.receive(.tunnelAllow(id: 1, allowance: 100), from: a)
        XCTAssertEqual(h.receive(.tunnelTransfer(id: 0, sizeOrContinuation: 1, chunk: s("x")), from: a),
                       [p(a, .tunnelTransfer(id: 1, sizeOrContinuation: 1, chunk: s("x"))), p(a, .tunnelAllow(id: 0, allowance: 1))])
        XCTAssertEqual(h.receive(.tunnelClose(id: 1), from: a),
                       [p(a, .tunnelClose(id: 1, reason: s(""))), p(a, .tunnelClose(id: 0, reason: s("")))])
        XCTAssertEqual(h.receive(.tunnelClose(id: 0), from: a), [], "second close of a removed tunnel is ignored")
    }

    func testCloseFromEitherSideForwardsBufferedDataFirst() {
        var (h, a, c) = linked()
        // Buffered toward a (no allowance yet), then c closes: a gets the data, then the close.
        h.receive(.tunnelTransfer(id: 0, sizeOrContinuation: 2, chunk: s("hi")), from: c)
        XCTAssertEqual(h.receive(.tunnelClose(id: 0), from: c), [
            p(c, .tunnelClose(id: 0, reason: s(""))),
            p(a, .tunnelTransfer(id: 1, sizeOrContinuation: 2, chunk: s("hi"))),
            p(a, .tunnelClose(id: 1, reason: s(""))),
        ])
        XCTAssertEqual(h.receive(.tunnelAllow(id: 1, allowance: 5), from: a), [])
        XCTAssertEqual(h.receive(.tunnelTransfer(id: 1, sizeOrContinuation: 1, chunk: s("z")), from: a), [])
        var (h2, a2, c2) = linked()
        XCTAssertEqual(h2.receive(.tunnelClose(id: 1), from: a2),
                       [p(a2, .tunnelClose(id: 1, reason: s(""))), p(c2, .tunnelClose(id: 0, reason: s("")))])
    }

    func testConnectionDropClosesPeerAndAnswersOffers() {
        var (h, a, c) = linked()
        let c2 = h.connect(nil)
        h.receive(.tunnelInit(id: 3, cluster: s("svc"), timeoutMilliseconds: 1000), from: c2)
        h.core.connectionClosed(a)
        let out = h.collect()
        XCTAssertEqual(Set(out.map(\.description)), Set([p(c2, .tunnelResult(id: 3, chunkLimit: nil)), p(c, .tunnelClose(id: 0, reason: s("")))].map(\.description)))
        XCTAssertEqual(h.core.tunnels.count, 0)
    }

    func testOverrunClosesTheSender() {
        var (h, _, c) = linked { $0.tunnelWindow = 10 }
        XCTAssertEqual(h.receive(.tunnelTransfer(id: 0, sizeOrContinuation: 11, chunk: ByteBuffer(repeating: 1, count: 11)), from: c),
                       [p(c, .close(reason: s("plexus: protocol violation: tunnel chunk beyond the granted allowance"))), .close(c),
                        p(ConnectionID(0), .tunnelClose(id: 1, reason: s("")))])
    }

    func testStalledReceiverWithholdsCredit() {
        var (h, a, c) = linked { $0.outboundQueueLimitBytes = 100 }
        h.receive(.tunnelAllow(id: 1, allowance: 1 << 20), from: a)
        h.stalled.insert(a)
        var forwarded = 0
        for _ in 0..<5 {
            for out in h.receive(.tunnelTransfer(id: 0, sizeOrContinuation: 40, chunk: ByteBuffer(repeating: 1, count: 40)), from: c) {
                if case .packet(let id, .tunnelTransfer) = out, id == a { forwarded += 1 }
            }
        }
        XCTAssertEqual(forwarded, 2, "only what fits the receiver's queue moves")
        XCTAssertEqual(h.core.tunnels.first!.value.toAcceptor.bufferedBytes, 120)
        let out = h.drain(a)
        XCTAssertTrue(out.contains(p(a, .tunnelTransfer(id: 1, sizeOrContinuation: 40, chunk: ByteBuffer(repeating: 1, count: 40)))))
        XCTAssertTrue(out.contains(p(c, .tunnelAllow(id: 0, allowance: 80))))
    }

    /// TestTunnelOverload in the core: an abandoned huge message, then small messages.
    func testAbandonedMessageThenForcedRestart() {
        var (h, a, c) = linked()
        h.receive(.tunnelAllow(id: 1, allowance: 65536), from: a)
        let chunk = ByteBuffer(repeating: 3, count: 65536)
        var toA = 0
        for index in 0..<8 { // 8 chunks of a 64 MiB message, then the sender gives up
            for out in h.receive(.tunnelTransfer(id: 0, sizeOrContinuation: index == 0 ? 64 << 20 : 0, chunk: chunk), from: c) {
                if case .packet(let id, .tunnelTransfer) = out, id == a { toA += 1 }
            }
        }
        XCTAssertEqual(toA, 8, "first chunk within allowance, continuations forced")
        XCTAssertEqual(h.core.tunnels.first!.value.toAcceptor.allowance, 65536 - 8 * 65536)
        // New message while the previous is incomplete: forced restart despite negative allowance.
        XCTAssertEqual(h.receive(.tunnelTransfer(id: 0, sizeOrContinuation: 8, chunk: s("12345678")), from: c),
                       [p(a, .tunnelTransfer(id: 1, sizeOrContinuation: 8, chunk: s("12345678"))), p(c, .tunnelAllow(id: 0, allowance: 8))])
        // The next one follows a complete message: it waits until the receiver grants enough.
        XCTAssertEqual(h.receive(.tunnelTransfer(id: 0, sizeOrContinuation: 8, chunk: s("abcdefgh")), from: c), [])
        XCTAssertEqual(h.receive(.tunnelAllow(id: 1, allowance: 7 * 65536 + 8), from: a), [])
        XCTAssertEqual(h.receive(.tunnelAllow(id: 1, allowance: 8), from: a),
                       [p(a, .tunnelTransfer(id: 1, sizeOrContinuation: 8, chunk: s("abcdefgh"))), p(c, .tunnelAllow(id: 0, allowance: 8))])
    }
}
