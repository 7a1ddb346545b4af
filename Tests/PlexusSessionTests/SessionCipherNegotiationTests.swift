import PlexusCrypto
import PlexusNoise
@testable import PlexusSession
import XCTest

/// The suite choice of `Docs/session-protocol.md` ("Cipher negotiation"), on the pure handshake:
/// the initiator proposes by running its suite, the responder follows whichever accepted suite
/// authenticates message 1, and a responder that does not accept the proposal fails message 1.
final class SessionCipherNegotiationTests: XCTestCase {
    let key = NetworkKey.generate()
    let initiatorIdentity = StaticIdentity.ephemeral()
    let responderIdentity = StaticIdentity.ephemeral()

    func configuration(_ role: NoiseRole, proposing: NoiseCipher = .chaChaPoly,
                       accepting: [NoiseCipher] = NoiseCipher.allCases.filter(\.isAvailable)) -> SessionConfiguration {
        var configuration = SessionConfiguration(role: role, identity: role == .initiator ? initiatorIdentity : responderIdentity,
                                                 keyring: Keyring(primary: key))
        configuration.proposedCipher = proposing
        configuration.acceptedCiphers = accepting
        return configuration
    }

    /// Messages 1–3 and one transport message each way; returns both completions.
    func run(initiator initiatorConfiguration: SessionConfiguration, responder responderConfiguration: SessionConfiguration) throws
        -> (initiator: SessionHandshake.Completion, responder: SessionHandshake.Completion) {
        var initiator = try SessionHandshake(configuration: initiatorConfiguration)
        var responder = try SessionHandshake(configuration: responderConfiguration)
        let message2 = try XCTUnwrap(try responder.receive(try initiator.start()).reply)
        let afterMessage2 = try initiator.receive(message2)
        var initiatorSide = try XCTUnwrap(afterMessage2.completion)
        var responderSide = try XCTUnwrap(try responder.receive(try XCTUnwrap(afterMessage2.reply)).completion)
        let there = try initiatorSide.ciphers.send.encrypt(associatedData: [], plaintext: [1, 2, 3])
        XCTAssertEqual(try responderSide.ciphers.receive.decrypt(associatedData: [], ciphertext: there), [1, 2, 3])
        let back = try responderSide.ciphers.send.encrypt(associatedData: [], plaintext: [4, 5])
        XCTAssertEqual(try initiatorSide.ciphers.receive.decrypt(associatedData: [], ciphertext: back), [4, 5])
        return (initiatorSide, responderSide)
    }

    func testDefaultsRunTheMandatoryChaChaPolySuite() throws {
        let result = try run(initiator: SessionConfiguration(role: .initiator, identity: initiatorIdentity, keyring: Keyring(primary: key)),
                             responder: SessionConfiguration(role: .responder, identity: responderIdentity, keyring: Keyring(primary: key)))
        XCTAssertEqual(result.initiator.cipher, .chaChaPoly)
        XCTAssertEqual(result.responder.cipher, .chaChaPoly)
    }

    func testAProposedAESGCMSuiteIsFollowedByAnAcceptingResponder() throws {
        try XCTSkipUnless(AESGCM.isAvailable, "no AES-NI/PCLMUL on this CPU")
        let result = try run(initiator: configuration(.initiator, proposing: .aesGCM), responder: configuration(.responder))
        XCTAssertEqual(result.initiator.cipher, .aesGCM)
        XCTAssertEqual(result.responder.cipher, .aesGCM)
        XCTAssertEqual(result.initiator.handshakeHash, result.responder.handshakeHash)
    }

    func testChaChaPolyIsAcceptedWhateverTheResponderPrefers() throws {
        let result = try run(initiator: configuration(.initiator, proposing: .chaChaPoly),
                             responder: configuration(.responder, accepting: NoiseCipher.allCases.filter(\.isAvailable).reversed()))
        XCTAssertEqual(result.responder.cipher, .chaChaPoly)
    }

    func testAResponderThatDoesNotAcceptTheProposalFailsMessageOne() throws {
        try XCTSkipUnless(AESGCM.isAvailable, "no AES-NI/PCLMUL on this CPU")
        var initiator = try SessionHandshake(configuration: configuration(.initiator, proposing: .aesGCM))
        var responder = try SessionHandshake(configuration: configuration(.responder, accepting: [.chaChaPoly]))
        XCTAssertThrowsError(try responder.receive(try initiator.start())) { error in
            XCTAssertEqual((error as? NoiseError)?.code, .decryptionFailed)
        }
    }

    // MARK: Through the handlers (EmbeddedChannel pair)

    func testHandlersEstablishAESGCMAndFrameTraffic() throws {
        try XCTSkipUnless(AESGCM.isAvailable, "no AES-NI/PCLMUL on this CPU")
        let pair = try SessionPair { initiator, _ in initiator.proposedCipher = .aesGCM }
        try pair.establish()
        XCTAssertTrue(pair.bothEstablished)
        XCTAssertEqual(pair.initiatorRecorder.established.first?.cipher, .aesGCM)
        XCTAssertEqual(pair.responderRecorder.established.first?.cipher, .aesGCM)
        let sizes = [1, 1000, 70_000]
        for (index, size) in sizes.enumerated() { pair.initiator.write(frame(size: size, seed: UInt8(index)), promise: nil) }
        pair.initiator.flush()
        try pair.pump()
        XCTAssertEqual(pair.responderRecorder.frames, sizes.enumerated().map { frame(size: $1, seed: UInt8($0)) })
    }

    /// A responder that does not run the proposed suite fails message 1 and closes; the initiator
    /// reports `peerClosedBeforeResponding` (the fallback's cue), not a key mismatch.
    func testARefusedProposalIsReportedAsClosedBeforeResponding() throws {
        try XCTSkipUnless(AESGCM.isAvailable, "no AES-NI/PCLMUL on this CPU")
        let pair = try SessionPair { initiator, responder in
            initiator.proposedCipher = .aesGCM
            responder.acceptedCiphers = [.chaChaPoly]
        }
        try pair.establish()
        XCTAssertEqual(pair.responderRecorder.errors.map(\.code), [.handshakeFailed])
        XCTAssertEqual(pair.initiatorRecorder.errors.map(\.code), [.peerClosedBeforeResponding])
        XCTAssertEqual(PeerHandshakeFailure(pair.initiatorRecorder.errors[0], role: .initiator), .refused)
        XCTAssertTrue(pair.initiatorRecorder.established.isEmpty && pair.responderRecorder.established.isEmpty)
    }

    /// A wrong network key still fails at message 3 under AESGCM: not mistaken for a refusal.
    func testAWrongKeyUnderAESGCMIsStillAKeyMismatch() throws {
        try XCTSkipUnless(AESGCM.isAvailable, "no AES-NI/PCLMUL on this CPU")
        let pair = try SessionPair(initiatorKeyring: Keyring(primary: .generate()), responderKeyring: Keyring(primary: .generate())) {
            initiator, _ in initiator.proposedCipher = .aesGCM
        }
        try pair.establish()
        XCTAssertEqual(pair.initiatorRecorder.errors.map(\.code), [.peerClosedDuringHandshake])
    }
}
