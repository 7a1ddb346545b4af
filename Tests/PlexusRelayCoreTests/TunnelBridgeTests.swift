import NIOCore
import PlexusPeerWire
@testable import PlexusRelayCore
import XCTest

private func first(_ size: Int, _ length: Int) -> TunnelChunk {
    TunnelChunk(sizeOrContinuation: UInt64(size), data: ByteBuffer(repeating: 1, count: length))
}
private func continuation(_ length: Int) -> TunnelChunk {
    TunnelChunk(sizeOrContinuation: 0, data: ByteBuffer(repeating: 2, count: length))
}

final class TunnelBridgeTests: XCTestCase {
    func testSenderForwardsOnlyWithinPeerCreditAndReturnsCreditToClient() {
        var sender = TunnelBridgeSender(window: 100)
        XCTAssertEqual(sender.initialClientGrant, 100)
        XCTAssertEqual(sender.receiveFromClient(first(60, 60)), .accepted)
        XCTAssertEqual(sender.receiveFromClient(first(30, 30)), .accepted)
        XCTAssertEqual(sender.receiveFromClient(first(20, 20)), .overrun, "beyond the client's credit")
        XCTAssertEqual(sender.release(), .init(), "no peer credit yet")
        sender.peerGranted(70)
        let release = sender.release()
        XCTAssertEqual(release.toPeer.map(\.length), [60], "30 does not fit the 10 left")
        XCTAssertEqual(release.clientGrant, 60)
        XCTAssertEqual(sender.bufferedBytes, 30)
        sender.peerGranted(20)
        XCTAssertEqual(sender.release().toPeer.map(\.length), [30])
        XCTAssertEqual(sender.peerCredit, 0)
        XCTAssertEqual(sender.clientCredit, 100)
    }

    func testSenderHoldsChunksBackWhileThePredicateSaysNoRoom() {
        var sender = TunnelBridgeSender(window: 100)
        for _ in 0..<3 { XCTAssertEqual(sender.receiveFromClient(first(20, 20)), .accepted) }
        sender.peerGranted(100)
        var asked: [Int] = []
        var room = 30
        let release = sender.release(hasRoom: { length in
            asked.append(length)
            guard length <= room else { return false }
            room -= length
            return true
        })
        XCTAssertEqual(release.toPeer.map(\.length), [20], "the second chunk does not fit the room left")
        XCTAssertEqual(release.clientGrant, 20)
        XCTAssertEqual(asked, [20, 20], "asked once per chunk, stopping at the first refusal")
        XCTAssertEqual(sender.peerCredit, 80, "credit is spent only on released chunks")
        XCTAssertEqual(sender.release().toPeer.map(\.length), [20, 20])
    }

    func testSenderDropsOrphanContinuationAndGivesItsCreditBack() {
        var sender = TunnelBridgeSender(window: 100)
        XCTAssertEqual(sender.receiveFromClient(continuation(5)), .discardedOrphanContinuation(creditToReturn: 5))
        XCTAssertEqual(sender.bufferedBytes, 0)
        XCTAssertEqual(sender.receiveFromClient(first(10, 4)), .accepted)
        XCTAssertEqual(sender.receiveFromClient(continuation(6)), .accepted)
    }

    func testReceiverAppliesTheV1SendAnywayRules() {
        var receiver = TunnelBridgeReceiver(window: 100)
        XCTAssertEqual(receiver.receiveFromPeer(first(30, 10)), .accepted)
        XCTAssertEqual(receiver.release(hasRoom: { _ in true }), .init(), "a first chunk waits for allowance")
        receiver.clientGranted(10)
        XCTAssertEqual(receiver.release(hasRoom: { _ in true }).toClient.count, 1)
        XCTAssertEqual(receiver.receiveFromPeer(continuation(10)), .accepted)
        XCTAssertEqual(receiver.release(hasRoom: { _ in true }).peerGrant, 10, "continuation: sent anyway")
        XCTAssertEqual(receiver.clientAllowance, -10)
        // The 30-byte message is incomplete (20 of 30): a new first chunk is sent anyway.
        XCTAssertEqual(receiver.receiveFromPeer(first(5, 5)), .accepted)
        XCTAssertEqual(receiver.release(hasRoom: { _ in true }).toClient.map(\.length), [5])
        // That message is complete; the next first chunk waits again.
        XCTAssertEqual(receiver.receiveFromPeer(first(5, 5)), .accepted)
        XCTAssertFalse(receiver.headIsReleasable)
        receiver.clientGranted(20)
        XCTAssertEqual(receiver.release(hasRoom: { _ in false }), .init(), "no room in the client's queue")
        XCTAssertEqual(receiver.release(hasRoom: { _ in true }).toClient.map(\.length), [5])
    }

    func testReceiverRejectsPeerOverrunAndOrphans() {
        var receiver = TunnelBridgeReceiver(window: 10)
        XCTAssertEqual(receiver.receiveFromPeer(continuation(3)), .discardedOrphanContinuation(creditToReturn: 3))
        XCTAssertEqual(receiver.receiveFromPeer(first(8, 8)), .accepted)
        XCTAssertEqual(receiver.receiveFromPeer(first(3, 3)), .overrun)
        XCTAssertEqual(receiver.drainForClose().map(\.length), [8], "flushed before the close notice")
        XCTAssertEqual(receiver.peerCredit, 10)
    }

    /// A receiver that takes nothing stalls the sender on the other relay; neither relay buffers
    /// more than its window; once the receiver reads, all 1,000 messages arrive in order.
    func testSlowReceiverThrottlesSenderAcrossRelays() throws {
        let window = 256 * 1024, grant = 128 * 1024, chunkLimit = 16 * 1024
        var loop = TwoRelayTunnelLoop(windowA: window, windowB: window, chunkLimit: chunkLimit,
                                      clientBInitialGrant: UInt64(grant))
        var messages: [ByteBuffer] = []
        var largest = 0
        for index in 0..<1_000 {
            let size = 1 + (index * 7_919) % 40_000
            largest = max(largest, size)
            var message = ByteBuffer(repeating: UInt8(truncatingIfNeeded: index), count: size)
            if size >= 4 { message.setInteger(UInt32(index), at: 0, as: UInt32.self) }
            messages.append(message)
            loop.send(message)
        }
        for _ in 0..<200 { try loop.step(consume: 0) }
        let stalledAt = loop.bytesSentByClientA
        for _ in 0..<50 { try loop.step(consume: 0) }
        XCTAssertEqual(loop.bytesSentByClientA, stalledAt, "the sender is stalled")
        XCTAssertLessThan(stalledAt, messages.reduce(0) { $0 + $1.readableBytes } / 10)
        // Both windows filled to within one chunk while the receiver did not read.
        XCTAssertGreaterThan(loop.peakBufferedA, window - chunkLimit)
        XCTAssertGreaterThan(loop.peakBufferedB, window - chunkLimit)
        XCTAssertLessThanOrEqual(stalledAt, window + window + grant + largest,
                                 "in flight ≤ both windows + receiver's allowance + one message sent anyway")
        var steps = 0
        while !loop.idle || loop.delivered.count < messages.count {
            try loop.step(consume: 1)
            steps += 1
            guard steps < 100_000 else { return XCTFail("no progress") }
        }
        XCTAssertLessThanOrEqual(loop.peakBufferedA, window)
        XCTAssertLessThanOrEqual(loop.peakBufferedB, window)
        XCTAssertGreaterThan(loop.peakBufferedB, 0)
        XCTAssertEqual(loop.delivered, messages, "all messages, intact, in order")
    }

    /// One 64 MiB message in 64 KiB chunks through 4 MiB windows, binding-sized grants.
    func testSixtyFourMebibyteMessagePassesIntact() throws {
        let window = 4 * 1024 * 1024, chunkLimit = 64 * 1024
        var loop = TwoRelayTunnelLoop(windowA: window, windowB: window, chunkLimit: chunkLimit,
                                      clientBInitialGrant: 64 * 1024 * 1024)
        // Every 1 KiB block carries its own number, so a lost, repeated or reordered chunk shows.
        var message = ByteBuffer(repeating: 0xa5, count: 64 * 1024 * 1024)
        for block in 0..<(64 * 1024) { message.setInteger(UInt32(block), at: block * 1024) }
        loop.send(message)
        loop.send(ByteBuffer(string: "after"))
        var steps = 0
        while !loop.idle || loop.delivered.count < 2 {
            try loop.step(consume: 1)
            steps += 1
            guard steps < 10_000 else { return XCTFail("no progress") }
        }
        XCTAssertGreaterThan(steps, 16, "the windows forced the message through in several rounds")
        XCTAssertLessThanOrEqual(loop.peakBufferedA, window)
        XCTAssertLessThanOrEqual(loop.peakBufferedB, window)
        XCTAssertEqual(loop.delivered.count, 2)
        XCTAssertTrue(loop.delivered[0] == message, "64 MiB intact")
        XCTAssertEqual(loop.delivered[1], ByteBuffer(string: "after"))
    }
}
