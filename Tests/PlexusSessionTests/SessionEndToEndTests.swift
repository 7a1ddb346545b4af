import NIOCore
import NIOEmbedded
import PlexusCrypto
import PlexusSession
import XCTest

final class SessionEndToEndTests: XCTestCase {
    func testHandshakeEstablishesBothSidesWithPeerIdentityAndAddresses() throws {
        let pair = try SessionPair()
        try pair.establish()
        XCTAssertTrue(pair.bothEstablished)
        let seenByInitiator = try XCTUnwrap(pair.initiatorRecorder.established.first)
        let seenByResponder = try XCTUnwrap(pair.responderRecorder.established.first)
        XCTAssertEqual(seenByInitiator.peerNodeID, SessionPair.responderIdentity.nodeID)
        XCTAssertEqual(seenByResponder.peerNodeID, SessionPair.initiatorIdentity.nodeID)
        XCTAssertEqual(seenByInitiator.peerAddresses, ["10.0.0.2:7946", "[fd00::2]:7946"])
        XCTAssertEqual(seenByResponder.peerAddresses, ["10.0.0.1:7946"])
        XCTAssertEqual(seenByInitiator.protocolVersion, 1)
        XCTAssertEqual(seenByInitiator.handshakeHash, seenByResponder.handshakeHash)
        XCTAssertEqual(pair.initiatorLogs.warnings.count + pair.responderLogs.warnings.count, 0)
    }

    func testFramesOfEverySizeArriveIntactAndInOrderBothWays() throws {
        let pair = try SessionPair()
        try pair.establish()
        let sizes = [0, 1, 65_517, 65_518, 65_519, 65_520, 1 << 20, 64 << 20]
        for (index, size) in sizes.enumerated() {
            pair.initiator.write(frame(size: size, seed: UInt8(index)), promise: nil)
            pair.responder.write(frame(size: size, seed: UInt8(100 + index)), promise: nil)
        }
        pair.initiator.flush()
        pair.responder.flush()
        try pair.pump()
        XCTAssertEqual(pair.responderRecorder.frames.map(\.readableBytes), sizes)
        XCTAssertEqual(pair.initiatorRecorder.frames.map(\.readableBytes), sizes)
        for (index, size) in sizes.enumerated() {
            XCTAssertTrue(pair.responderRecorder.frames[index] == frame(size: size, seed: UInt8(index)), "frame \(size) to responder")
            XCTAssertTrue(pair.initiatorRecorder.frames[index] == frame(size: size, seed: UInt8(100 + index)), "frame \(size) to initiator")
        }
        XCTAssertTrue(pair.responderRecorder.errors.isEmpty && pair.initiatorRecorder.errors.isEmpty)
    }

    func testSmallFramesBeforeOneFlushAreCoalescedIntoOneBuffer() throws {
        let pair = try SessionPair()
        try pair.establish()
        for i in 0..<50 { pair.initiator.write(frame(size: 10, seed: UInt8(i)), promise: nil) }
        XCTAssertNil(try pair.initiator.readOutbound(as: ByteBuffer.self), "nothing leaves before flush")
        pair.initiator.flush()
        let buffer = try XCTUnwrap(pair.initiator.readOutbound(as: ByteBuffer.self))
        XCTAssertEqual(buffer.readableBytes, 50 * (2 + 10 + 1 + 16))
        XCTAssertNil(try pair.initiator.readOutbound(as: ByteBuffer.self))
        try pair.responder.writeInbound(buffer)
        XCTAssertEqual(pair.responderRecorder.frames.count, 50)
    }

    func testWritePromisesCompleteAndEarlyWritesAreRefused() throws {
        let pair = try SessionPair()
        try pair.connect()
        let early = pair.initiator.eventLoop.makePromise(of: Void.self)
        pair.initiator.write(frame(size: 4, seed: 0), promise: early)
        XCTAssertThrowsError(try early.futureResult.wait()) { error in
            XCTAssertEqual((error as? SessionError)?.code, .notEstablished)
        }
        try pair.pump()
        let promise = pair.initiator.eventLoop.makePromise(of: Void.self)
        pair.initiator.writeAndFlush(frame(size: 4, seed: 0), promise: promise)
        XCTAssertNoThrow(try promise.futureResult.wait())
    }

    func testRekeyAfterConfiguredCountKeepsBothSidesTalking() throws {
        let pair = try SessionPair { initiator, responder in
            initiator.rekeyInterval = 3
            responder.rekeyInterval = 3
        }
        try pair.establish()
        for round in 0..<10 {
            for i in 0..<4 {
                pair.initiator.write(frame(size: 100 + i, seed: UInt8(round)), promise: nil)
                pair.responder.write(frame(size: 200 + i, seed: UInt8(round)), promise: nil)
            }
            pair.initiator.flush()
            pair.responder.flush()
            try pair.pump()
        }
        XCTAssertEqual(pair.responderRecorder.frames.count, 40)
        XCTAssertEqual(pair.initiatorRecorder.frames.count, 40)
        XCTAssertTrue(pair.responderRecorder.errors.isEmpty && pair.initiatorRecorder.errors.isEmpty)
    }

    func testRekeyReallyChangesTheKey() throws {
        // The sender rekeys after 3 messages, the receiver does not: message 4 must fail.
        let pair = try SessionPair { initiator, responder in
            initiator.rekeyInterval = 3
            responder.rekeyInterval = 1 << 20
        }
        try pair.establish()
        for i in 0..<4 { pair.initiator.writeAndFlush(frame(size: 10, seed: UInt8(i)), promise: nil) }
        try pair.pump()
        XCTAssertEqual(pair.responderRecorder.frames.count, 3)
        XCTAssertEqual(pair.responderRecorder.errors.map(\.code), [.authenticationFailed])
    }

    func testKeyringAcceptsOldAndNewKeys() throws {
        let old = NetworkKey.generate(), new = NetworkKey.generate()
        let rotating = Keyring(primary: new, secondary: [old])
        for (initiatorKey, expectedIndex) in [(old, 1), (new, 0)] {
            let pair = try SessionPair(initiatorKeyring: Keyring(primary: initiatorKey), responderKeyring: rotating)
            try pair.establish()
            XCTAssertTrue(pair.bothEstablished)
            XCTAssertEqual(pair.responderRecorder.established.first?.keyIndex, expectedIndex)
            pair.initiator.writeAndFlush(frame(size: 5, seed: 1), promise: nil)
            try pair.pump()
            XCTAssertEqual(pair.responderRecorder.frames.count, 1)
        }
    }

    func testKeyringWithoutOldKeyRefusesInitiatorUsingOldKey() throws {
        let old = NetworkKey.generate(), new = NetworkKey.generate()
        let pair = try SessionPair(initiatorKeyring: Keyring(primary: old), responderKeyring: Keyring(primary: new))
        try pair.establish()
        XCTAssertEqual(pair.responderRecorder.errors.map(\.code), [.handshakeFailed])
        XCTAssertEqual(pair.initiatorRecorder.errors.map(\.code), [.peerClosedDuringHandshake])
        XCTAssertTrue(pair.initiatorRecorder.established.isEmpty && pair.responderRecorder.established.isEmpty)
    }

    func testVersionMismatchIsRefusedCleanlyOnBothSides() throws {
        let pair = try SessionPair { initiator, responder in
            initiator.supportedVersions = 1...1
            responder.supportedVersions = 2...3
        }
        try pair.establish()
        XCTAssertEqual(pair.responderRecorder.errors.map(\.code), [.unsupportedProtocolVersion])
        XCTAssertEqual(pair.initiatorRecorder.errors.map(\.code), [.unsupportedProtocolVersion])
        XCTAssertTrue(pair.initiatorRecorder.errors[0].message.contains("peer speaks session protocol versions 2...3"),
                      pair.initiatorRecorder.errors[0].message)
        XCTAssertFalse(pair.initiator.isActive || pair.responder.isActive)
        XCTAssertTrue(pair.initiatorRecorder.established.isEmpty && pair.responderRecorder.established.isEmpty)
    }

    func testVersionNegotiationPicksHighestCommon() throws {
        let pair = try SessionPair { initiator, responder in
            initiator.supportedVersions = 1...3
            responder.supportedVersions = 2...5
        }
        try pair.establish()
        XCTAssertEqual(pair.initiatorRecorder.established.first?.protocolVersion, 3)
        XCTAssertEqual(pair.responderRecorder.established.first?.protocolVersion, 3)
    }
}
