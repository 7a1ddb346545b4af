import NIOCore
import NIOEmbedded
import PlexusCrypto
import PlexusSession
import XCTest

/// The one-byte preface that shares the peer port between membership streams and messaging
/// sessions: the pure decoder (golden bytes, bad byte, deadline) and its thin handlers.
final class PeerPortPrefaceTests: XCTestCase {
    // MARK: The pure decoder

    func testGoldenPrefaceBytes() {
        XCTAssertEqual(PeerPortPreface.membershipStream.bytes, [0x4D]) // "M"
        XCTAssertEqual(PeerPortPreface.messagingSession.bytes, [0x53]) // "S"
        XCTAssertEqual(PeerPortPreface.length, 1)
        XCTAssertEqual(PeerPortPreface.deadlineMilliseconds, 3_000)
        XCTAssertEqual(Array("MS".utf8), PeerPortPreface.allCases.flatMap(\.bytes))
    }

    func testDecoderRoutesOnTheFirstByteOnly() {
        var decoder = PeerPortPrefaceDecoder(acceptedAt: 1_000)
        XCTAssertEqual(decoder.receive([UInt8](), now: 1_001), .needMoreBytes)
        XCTAssertEqual(decoder.receive([0x53, 0x00, 0xFF], now: 1_002), .route(.messagingSession))
        // Decided once: later bytes (the handshake) never change it.
        XCTAssertEqual(decoder.receive([0x4D], now: 1_003), .route(.messagingSession))
        var membership = PeerPortPrefaceDecoder(acceptedAt: 0)
        XCTAssertEqual(membership.receive([0x4D], now: 0), .route(.membershipStream))
    }

    func testUnknownByteIsRefused() {
        // 0x00 starts a Noise handshake message length: an old relay that dials without a preface.
        for byte: UInt8 in [0x00, 0x01, 0x6D, 0x73, 0xFF] {
            var decoder = PeerPortPrefaceDecoder(acceptedAt: 0)
            guard case .reject(let error) = decoder.receive([byte], now: 10) else {
                return XCTFail("0x\(String(byte, radix: 16)) was accepted")
            }
            XCTAssertEqual(error.code, .unknownPreface)
        }
    }

    func testUnservedKindIsRefused() {
        var decoder = PeerPortPrefaceDecoder(acceptedAt: 0, served: [.membershipStream])
        XCTAssertEqual(decoder.receive([0x53], now: 1), .reject(.unservedPreface(.messagingSession)))
    }

    func testDeadline() {
        var decoder = PeerPortPrefaceDecoder(acceptedAt: 500)
        XCTAssertEqual(decoder.deadline, 3_500)
        XCTAssertEqual(decoder.expire(now: 3_499), .needMoreBytes)
        XCTAssertEqual(decoder.expire(now: 3_500), .reject(.timedOut))
        XCTAssertEqual(decoder.receive([0x53], now: 3_501), .reject(.timedOut), "too late stays refused")
        var late = PeerPortPrefaceDecoder(acceptedAt: 0, deadlineMilliseconds: 100)
        XCTAssertEqual(late.receive([0x4D], now: 100), .reject(.timedOut))
    }

    // MARK: The handlers

    func testDialedSessionWritesThePrefaceFirstAndTheListenerRoutesIt() throws {
        let loop = EmbeddedEventLoop()
        let key = NetworkKey.generate()
        let (dialer, listener) = (EmbeddedChannel(loop: loop), EmbeddedChannel(loop: loop))
        let (dialerRecorder, listenerRecorder) = (Recorder(), Recorder())
        let initiator = SessionConfiguration(role: .initiator, identity: .ephemeral(), keyring: Keyring(primary: key))
        let responder = SessionConfiguration(role: .responder, identity: .ephemeral(), keyring: Keyring(primary: key))
        try dialer.pipeline.syncOperations.addHandlers([PeerPortPrefaceWriter(.messagingSession),
                                                        NoiseSessionHandler(configuration: initiator), dialerRecorder])
        var routed: [PeerPortPreface] = []
        try listener.pipeline.syncOperations.addHandler(PeerPortPrefaceHandler { kind, _ in
            routed.append(kind)
            return PeerPortPipeline(session: try NoiseSessionHandler(configuration: responder), application: [listenerRecorder])
        })
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 9)
        try listener.connect(to: address).wait()
        try dialer.connect(to: address).wait()

        // The first bytes on the wire: the preface, then the handshake's first message.
        var first = try XCTUnwrap(dialer.readOutbound(as: ByteBuffer.self))
        XCTAssertEqual(first.readableBytesView.first, 0x53)
        if first.readableBytes == 1, let next = try dialer.readOutbound(as: ByteBuffer.self) {
            first.writeImmutableBuffer(next)
        }
        // Golden: preface, then the handshake's first message (2-byte length 48: `e` and the tag of
        // its empty payload, encrypted because a PSK handshake mixes `e` into the key).
        XCTAssertEqual(Array(first.readableBytesView.prefix(3)), [0x53, 0x00, 0x30])
        XCTAssertEqual(first.readableBytes, 3 + 48)
        // Preface and handshake arrive in one read: the rest goes to the installed session.
        try listener.writeInbound(first)
        for _ in 0..<20 { // a bounded pump
            var moved = false
            while let bytes = try listener.readOutbound(as: ByteBuffer.self) { moved = true; try dialer.writeInbound(bytes) }
            while let bytes = try dialer.readOutbound(as: ByteBuffer.self) { moved = true; try listener.writeInbound(bytes) }
            if !moved { break }
        }
        XCTAssertEqual(routed, [.messagingSession])
        XCTAssertEqual(dialerRecorder.established.count, 1)
        XCTAssertEqual(listenerRecorder.established.count, 1)
        XCTAssertThrowsError(try listener.pipeline.syncOperations.handler(type: PeerPortPrefaceHandler.self), "removed itself")
        XCTAssertThrowsError(try dialer.pipeline.syncOperations.handler(type: PeerPortPrefaceWriter.self), "removed itself")
    }

    func testBadPrefaceClosesTheConnectionAndIsReported() throws {
        let channel = EmbeddedChannel()
        var rejected: [PeerPortPrefaceError] = []
        var routed = 0
        try channel.pipeline.syncOperations.addHandler(PeerPortPrefaceHandler(route: { _, _ in
            routed += 1
            throw PeerPortPrefaceError.timedOut
        }, onRejected: { rejected.append($0) }))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        try channel.writeInbound(ByteBuffer(bytes: [0x00, 0x20, 0x01]))
        XCTAssertFalse(channel.isActive)
        XCTAssertEqual(rejected.map(\.code), [.unknownPreface])
        XCTAssertEqual(routed, 0)
    }

    func testNoPrefaceWithinTheDeadlineClosesTheConnection() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        var rejected: [PeerPortPrefaceError] = []
        try channel.pipeline.syncOperations.addHandler(PeerPortPrefaceHandler(route: { _, _ in
            XCTFail("nothing arrived to route")
            throw PeerPortPrefaceError.timedOut
        }, onRejected: { rejected.append($0) }))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        loop.advanceTime(by: .milliseconds(PeerPortPreface.deadlineMilliseconds - 1))
        XCTAssertTrue(channel.isActive)
        loop.advanceTime(by: .milliseconds(1))
        XCTAssertFalse(channel.isActive)
        XCTAssertEqual(rejected.map(\.code), [.timedOut])
    }
}

/// Session errors → the four reasons of `plexus_peer_handshake_failures_total`.
final class PeerHandshakeFailureTests: XCTestCase {
    func testClassification() throws {
        // A wrong network key, seen from both ends.
        let pair = try SessionPair(initiatorKeyring: Keyring(primary: .generate()), responderKeyring: Keyring(primary: .generate()))
        try pair.establish()
        let initiatorError = try XCTUnwrap(pair.initiatorRecorder.errors.first)
        let responderError = try XCTUnwrap(pair.responderRecorder.errors.first)
        XCTAssertEqual(PeerHandshakeFailure(initiatorError, role: .initiator), .authentication)
        XCTAssertEqual(PeerHandshakeFailure(responderError, role: .responder), .authentication)

        var counts = PeerHandshakeFailureCounts()
        counts.count(initiatorError, role: .initiator)
        counts.count(responderError, role: .responder)
        counts.count(PeerPortPrefaceError.timedOut, role: .responder) // not a SessionError: ignored
        XCTAssertEqual(counts.authentication, 2)
        XCTAssertEqual(counts[.timeout] + counts[.malformed] + counts[.refused], 0)
    }

    func testTimeoutAndMalformedAndWhatIsNotAFailure() throws {
        // A handshake that never completes.
        let pair = try SessionPair(configure: { initiator, responder in
            initiator.handshakeTimeout = .milliseconds(100)
            responder.handshakeTimeout = .milliseconds(100)
        })
        try pair.connect()
        pair.loop.advanceTime(by: .milliseconds(100))
        let timedOut = try XCTUnwrap(pair.initiatorRecorder.errors.first)
        XCTAssertEqual(PeerHandshakeFailure(timedOut, role: .initiator), .timeout)
        // Garbage instead of a handshake message.
        let garbage = try SessionPair()
        try garbage.connect()
        try garbage.responder.writeInbound(ByteBuffer(bytes: [0xFF, 0xFF] + Array(repeating: 0, count: 64)))
        let malformed = try XCTUnwrap(garbage.responderRecorder.errors.first)
        XCTAssertEqual(PeerHandshakeFailure(malformed, role: .responder), .malformed)
        // A responder whose peer went away mid-handshake counts nothing (the peer or admission does).
        let gone = try SessionPair()
        try gone.connect()
        _ = try? gone.responder.close().wait()
        if let error = gone.responderRecorder.errors.first {
            XCTAssertNil(PeerHandshakeFailure(error, role: .responder))
        }
    }
}
