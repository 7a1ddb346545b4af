import NIOCore
@testable import PlexusRelayCore
import XCTest

/// The §9.4 allowance rules of one tunnel direction, with no core around them.
final class TunnelFlowTests: XCTestCase {
    private func bytes(_ n: Int) -> ByteBuffer { ByteBuffer(repeating: 0xab, count: n) }
    private let always: (Int) -> Bool = { _ in true }

    func testFirstChunkWaitsForAllowance() {
        var flow = TunnelFlow(window: 100)
        XCTAssertEqual(flow.receive(sizeOrContinuation: 10, chunk: bytes(10)), .accepted)
        XCTAssertNil(flow.popReleasable(hasRoom: always))
        flow.grant(9)
        XCTAssertNil(flow.popReleasable(hasRoom: always))
        flow.grant(1)
        XCTAssertEqual(flow.popReleasable(hasRoom: always)?.data.readableBytes, 10)
        XCTAssertEqual(flow.allowance, 0)
        XCTAssertEqual(flow.senderCredit, 100)
    }

    func testContinuationIsForcedAndAllowanceGoesNegative() {
        var flow = TunnelFlow(window: 100)
        flow.grant(10)
        XCTAssertEqual(flow.receive(sizeOrContinuation: 30, chunk: bytes(10)), .accepted)
        XCTAssertEqual(flow.receive(sizeOrContinuation: 0, chunk: bytes(10)), .accepted)
        XCTAssertEqual(flow.receive(sizeOrContinuation: 0, chunk: bytes(10)), .accepted)
        XCTAssertNotNil(flow.popReleasable(hasRoom: always))
        XCTAssertNotNil(flow.popReleasable(hasRoom: always)) // forced continuation
        XCTAssertNotNil(flow.popReleasable(hasRoom: always))
        XCTAssertEqual(flow.allowance, -20)
        XCTAssertEqual(flow.forwardedRemaining, 0)
    }

    func testRestartAfterAbandonedPartialIsForced() {
        var flow = TunnelFlow(window: 1000)
        flow.grant(10)
        // A 100-byte message abandoned after its first 10-byte chunk...
        XCTAssertEqual(flow.receive(sizeOrContinuation: 100, chunk: bytes(10)), .accepted)
        XCTAssertNotNil(flow.popReleasable(hasRoom: always))
        // ...then a new message starts: forwarded without allowance (forced restart).
        XCTAssertEqual(flow.receive(sizeOrContinuation: 8, chunk: bytes(8)), .accepted)
        XCTAssertEqual(flow.popReleasable(hasRoom: always)?.sizeOrContinuation, 8)
        XCTAssertEqual(flow.allowance, -8)
        // The message after that is complete-preceded: it waits again.
        XCTAssertEqual(flow.receive(sizeOrContinuation: 8, chunk: bytes(8)), .accepted)
        XCTAssertNil(flow.popReleasable(hasRoom: always))
        flow.grant(16)
        XCTAssertNotNil(flow.popReleasable(hasRoom: always))
    }

    func testSenderCreditBoundsTheBuffer() {
        var flow = TunnelFlow(window: 20)
        XCTAssertEqual(flow.receive(sizeOrContinuation: 15, chunk: bytes(15)), .accepted)
        XCTAssertEqual(flow.receive(sizeOrContinuation: 6, chunk: bytes(6)), .overrun)
        XCTAssertEqual(flow.receive(sizeOrContinuation: 5, chunk: bytes(5)), .accepted)
        XCTAssertEqual(flow.bufferedBytes, 20)
        XCTAssertEqual(flow.senderCredit, 0)
    }

    func testQueueRoomWithholdsEvenForcedChunks() {
        var flow = TunnelFlow(window: 100)
        XCTAssertEqual(flow.receive(sizeOrContinuation: 20, chunk: bytes(10)), .accepted)
        flow.grant(100)
        XCTAssertNotNil(flow.popReleasable(hasRoom: always))
        XCTAssertEqual(flow.receive(sizeOrContinuation: 0, chunk: bytes(10)), .accepted)
        XCTAssertNil(flow.popReleasable(hasRoom: { _ in false }))
        XCTAssertNotNil(flow.popReleasable(hasRoom: always))
    }

    func testOrphanContinuationIsDiscarded() {
        var flow = TunnelFlow(window: 100)
        XCTAssertEqual(flow.receive(sizeOrContinuation: 0, chunk: bytes(5)), .discardedOrphanContinuation)
        XCTAssertEqual(flow.bufferedBytes, 0)
        XCTAssertEqual(flow.senderCredit, 100)
    }
}
