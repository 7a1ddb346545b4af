import NIOCore
import NIOEmbedded
import PlexusCrypto
import PlexusSession
import XCTest

final class SessionFailureTests: XCTestCase {
    func testWrongNetworkKeyFailsBothSidesAndIsLoggedOnce() throws {
        for wrongSide in ["initiator", "responder"] {
            let right = NetworkKey.generate(), wrong = NetworkKey.generate()
            let pair = try SessionPair(initiatorKeyring: Keyring(primary: wrongSide == "initiator" ? wrong : right),
                                       responderKeyring: Keyring(primary: wrongSide == "responder" ? wrong : right))
            try pair.establish()
            XCTAssertEqual(pair.responderRecorder.errors.map(\.code), [.handshakeFailed], wrongSide)
            XCTAssertTrue(pair.responderRecorder.errors[0].message.contains("wrong pre-shared key: the network key"), pair.responderRecorder.errors[0].message)
            XCTAssertEqual(pair.initiatorRecorder.errors.map(\.code), [.peerClosedDuringHandshake], wrongSide)
            XCTAssertTrue(pair.initiatorRecorder.errors[0].message.contains("network keys differ"))
            XCTAssertTrue(pair.initiatorRecorder.frames.isEmpty && pair.responderRecorder.frames.isEmpty)
            XCTAssertTrue(pair.initiatorRecorder.established.isEmpty && pair.responderRecorder.established.isEmpty)
            XCTAssertEqual(pair.responderLogs.warnings.count, 1, "responder logs the failure once")
            XCTAssertEqual(pair.initiatorLogs.warnings.count, 1, "initiator logs the failure once")
            XCTAssertTrue(pair.responderLogs.warnings[0].message.contains("session handshake failed"))
            XCTAssertFalse(pair.initiator.isActive || pair.responder.isActive)
        }
    }

    /// Flips one bit in every byte of every handshake message (and the HELLO).
    func testFlippedBitInAnyHandshakeMessageFailsTheHandshake() throws {
        // Message sizes on the wire (prefix included): msg1, msg2, msg3, HELLO.
        let probe = try SessionPair()
        var sizes: [(Bool, Int, Int)] = []
        probe.tap = { fromInitiator, index, bytes in
            sizes.append((fromInitiator, index, bytes.readableBytes))
            return bytes
        }
        try probe.establish()
        XCTAssertEqual(sizes.count, 4)
        for (fromInitiator, index, size) in sizes {
            for position in 2..<size {   // every byte after the length prefix
                let pair = try SessionPair()
                pair.tap = { from, i, bytes in
                    guard from == fromInitiator, i == index else { return bytes }
                    var copy = bytes
                    let byte = copy.getInteger(at: copy.readerIndex + position, as: UInt8.self)!
                    copy.setInteger(byte ^ (1 << UInt8(position % 8)), at: copy.readerIndex + position)
                    return copy
                }
                try pair.establish()
                let context = "message \(index) from \(fromInitiator ? "initiator" : "responder"), byte \(position)"
                XCTAssertFalse(pair.bothEstablished, context)
                XCTAssertFalse(pair.initiatorRecorder.errors.isEmpty && pair.responderRecorder.errors.isEmpty, context)
                XCTAssertTrue(pair.initiatorRecorder.frames.isEmpty && pair.responderRecorder.frames.isEmpty, context)
                XCTAssertFalse(pair.initiator.isActive || pair.responder.isActive, context)
            }
        }
    }

    private func establishedPair() throws -> SessionPair {
        let pair = try SessionPair()
        try pair.establish()
        XCTAssertTrue(pair.bothEstablished)
        return pair
    }

    /// Writes frames on the initiator and returns the encrypted bytes without delivering them.
    private func encrypted(_ pair: SessionPair, sizes: [Int]) throws -> [ByteBuffer] {
        var out: [ByteBuffer] = []
        for (i, size) in sizes.enumerated() {
            pair.initiator.writeAndFlush(frame(size: size, seed: UInt8(i)), promise: nil)
            out.append(try XCTUnwrap(pair.initiator.readOutbound(as: ByteBuffer.self)))
        }
        return out
    }

    func testFlippedBitInTransportMessageClosesWithoutDelivery() throws {
        for position in 0..<(2 + 20 + 1 + 16) {  // every byte: prefix, body, trailer, tag
            let pair = try establishedPair()
            var message = try encrypted(pair, sizes: [20])[0]
            let byte = message.getInteger(at: position, as: UInt8.self)!
            message.setInteger(byte ^ 0x10, at: position)
            try pair.responder.writeInbound(message)
            if position < 2 {
                // A changed length either fails the range check/authentication or leaves the
                // message incomplete; closing the connection then reports truncation.
                if pair.responderRecorder.errors.isEmpty { _ = try pair.responder.close().wait() }
            }
            XCTAssertEqual(pair.responderRecorder.errors.count, 1, "position \(position)")
            XCTAssertTrue(pair.responderRecorder.frames.isEmpty, "position \(position)")
            XCTAssertFalse(pair.responder.isActive)
        }
    }

    func testReplayedTransportMessageIsRejected() throws {
        let pair = try establishedPair()
        let messages = try encrypted(pair, sizes: [10])
        try pair.responder.writeInbound(messages[0])
        try pair.responder.writeInbound(messages[0])
        XCTAssertEqual(pair.responderRecorder.frames.count, 1)
        XCTAssertEqual(pair.responderRecorder.errors.map(\.code), [.authenticationFailed])
        XCTAssertFalse(pair.responder.isActive)
    }

    func testReorderedTransportMessagesAreRejected() throws {
        let pair = try establishedPair()
        let messages = try encrypted(pair, sizes: [10, 11])
        try pair.responder.writeInbound(messages[1])
        _ = try? pair.responder.writeInbound(messages[0])
        XCTAssertTrue(pair.responderRecorder.frames.isEmpty)
        XCTAssertEqual(pair.responderRecorder.errors.map(\.code), [.authenticationFailed])
    }

    func testTruncatedMessageWithFixedUpLengthFailsAuthentication() throws {
        let pair = try establishedPair()
        var message = try encrypted(pair, sizes: [40])[0]
        message.moveWriterIndex(to: message.writerIndex - 5)
        message.setInteger(UInt16(message.readableBytes - 2), at: message.readerIndex)
        try pair.responder.writeInbound(message)
        XCTAssertTrue(pair.responderRecorder.frames.isEmpty)
        XCTAssertEqual(pair.responderRecorder.errors.map(\.code), [.authenticationFailed])
    }

    func testConnectionClosedMidMessageOrMidFrameReportsTruncation() throws {
        let pair = try establishedPair()
        var message = try encrypted(pair, sizes: [40])[0]
        try pair.responder.writeInbound(message.readSlice(length: 20)!)
        _ = try pair.responder.close().wait()
        XCTAssertTrue(pair.responderRecorder.frames.isEmpty)
        XCTAssertEqual(pair.responderRecorder.errors.map(\.code), [.truncated])

        let second = try establishedPair()
        var big = try encrypted(second, sizes: [200_000])[0]
        try second.responder.writeInbound(big.readSlice(length: 65_535 + 2)!)  // first fragment only
        _ = try second.responder.close().wait()
        XCTAssertTrue(second.responderRecorder.frames.isEmpty)
        XCTAssertEqual(second.responderRecorder.errors.map(\.code), [.truncated])
    }

    func testTransportLengthBelowMinimumIsRejected() throws {
        let pair = try establishedPair()
        var bogus = ByteBufferAllocator().buffer(capacity: 20)
        bogus.writeInteger(UInt16(16))
        bogus.writeBytes([UInt8](repeating: 0, count: 16))
        try pair.responder.writeInbound(bogus)
        XCTAssertEqual(pair.responderRecorder.errors.map(\.code), [.messageLengthOutOfRange])
        XCTAssertTrue(pair.responderRecorder.frames.isEmpty)
    }

    func testHandshakeLengthOverTheLimitIsRejected() throws {
        let pair = try SessionPair()
        try pair.connect()
        var bogus = ByteBufferAllocator().buffer(capacity: 2)
        bogus.writeInteger(UInt16.max)
        try pair.responder.writeInbound(bogus)
        XCTAssertEqual(pair.responderRecorder.errors.map(\.code), [.messageLengthOutOfRange])
        XCTAssertEqual(pair.responderLogs.warnings.count, 1)
    }

    func testFrameOverTheConfiguredLimitIsRejected() throws {
        let pair = try SessionPair { initiator, responder in
            initiator.maximumFrameSize = 1 << 20
            responder.maximumFrameSize = 100_000
        }
        try pair.establish()
        pair.initiator.writeAndFlush(frame(size: 150_000, seed: 1), promise: nil)
        try pair.pump()
        XCTAssertTrue(pair.responderRecorder.frames.isEmpty)
        XCTAssertEqual(pair.responderRecorder.errors.map(\.code), [.frameTooLarge])
        // The sender refuses frames above its own limit without closing.
        let other = try establishedPair()
        let promise = other.initiator.eventLoop.makePromise(of: Void.self)
        other.initiator.writeAndFlush(frame(size: SessionLimits.defaultMaximumFrameSize + 1, seed: 0), promise: promise)
        XCTAssertThrowsError(try promise.futureResult.wait()) { XCTAssertEqual(($0 as? SessionError)?.code, .frameTooLarge) }
        XCTAssertTrue(other.initiator.isActive)
    }

    func testStalledHandshakeIsDroppedAtItsDeadline() throws {
        let pair = try SessionPair { initiator, responder in
            initiator.handshakeTimeout = .seconds(5)
            responder.handshakeTimeout = .seconds(5)
        }
        try pair.connect()
        // Deliver message 1 only, then stall both directions.
        try pair.responder.writeInbound(try XCTUnwrap(pair.initiator.readOutbound(as: ByteBuffer.self)))
        pair.loop.advanceTime(by: .seconds(4))
        XCTAssertTrue(pair.initiator.isActive && pair.responder.isActive)
        pair.loop.advanceTime(by: .seconds(2))
        XCTAssertEqual(pair.initiatorRecorder.errors.map(\.code), [.handshakeTimeout])
        XCTAssertEqual(pair.responderRecorder.errors.map(\.code), [.handshakeTimeout])
        XCTAssertFalse(pair.initiator.isActive || pair.responder.isActive)
        XCTAssertEqual(pair.initiatorLogs.warnings.count, 1)
    }

    func testEstablishedSessionIsNotDroppedByTheDeadline() throws {
        let pair = try SessionPair()
        try pair.establish()
        pair.loop.advanceTime(by: .seconds(60))
        XCTAssertTrue(pair.initiator.isActive && pair.responder.isActive)
        XCTAssertTrue(pair.initiatorRecorder.errors.isEmpty && pair.responderRecorder.errors.isEmpty)
    }
}
