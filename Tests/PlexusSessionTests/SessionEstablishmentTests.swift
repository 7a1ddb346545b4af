import PlexusCrypto
import PlexusNoise
@testable import PlexusSession
import XCTest

/// The HELLO / version agreement step, without sockets or channels: two `SessionHandshake`s run
/// back to back in memory, then `SessionEstablishment` decides on each side.
final class SessionEstablishmentTests: XCTestCase {
    let key = NetworkKey.generate()
    let initiatorIdentity = StaticIdentity.ephemeral()
    let responderIdentity = StaticIdentity.ephemeral()

    func configuration(_ role: NoiseRole, versions: ClosedRange<UInt16>, addresses: [String]) -> SessionConfiguration {
        var configuration = SessionConfiguration(role: role, identity: role == .initiator ? initiatorIdentity : responderIdentity,
                                                 keyring: Keyring(primary: key), advertisedAddresses: addresses)
        configuration.supportedVersions = versions
        return configuration
    }

    /// Runs messages 1–3 and returns both completions.
    func handshake(initiatorVersions: ClosedRange<UInt16>, responderVersions: ClosedRange<UInt16>) throws
        -> (initiator: SessionHandshake.Completion, responder: SessionHandshake.Completion,
            initiatorPayload: HandshakePayload, responderPayload: HandshakePayload) {
        var initiator = try SessionHandshake(configuration: configuration(.initiator, versions: initiatorVersions,
                                                                          addresses: ["10.0.0.1:1"]))
        var responder = try SessionHandshake(configuration: configuration(.responder, versions: responderVersions,
                                                                          addresses: ["10.0.0.2:2"]))
        let message1 = try initiator.start()
        let message2 = try XCTUnwrap(try responder.receive(message1).reply)
        let afterMessage2 = try initiator.receive(message2)
        let message3 = try XCTUnwrap(afterMessage2.reply)
        let initiatorCompletion = try XCTUnwrap(afterMessage2.completion)
        let responderCompletion = try XCTUnwrap(try responder.receive(message3).completion)
        return (initiatorCompletion, responderCompletion, initiator.localPayload, responder.localPayload)
    }

    func peer(of completion: SessionHandshake.Completion) -> AuthenticatedPeer {
        AuthenticatedPeer(staticKey: completion.peerStaticKey, handshakeHash: completion.handshakeHash,
                          keyIndex: completion.keyIndex, cipher: completion.cipher)
    }

    func testBothSidesAgreeOnTheHighestSharedVersionAndLearnEachOther() throws {
        let run = try handshake(initiatorVersions: 1...3, responderVersions: 2...5)
        let responderSide = try SessionEstablishment.responder(run.responder, localPayload: run.responderPayload)
        let initiatorSide = try SessionEstablishment.initiator(helloPayload: try run.responderPayload.encode(),
                                                               ours: run.initiatorPayload, peer: peer(of: run.initiator))
        XCTAssertEqual(responderSide.protocolVersion, 3)
        XCTAssertEqual(initiatorSide.protocolVersion, 3)
        XCTAssertEqual(responderSide.peerNodeID, initiatorIdentity.nodeID)
        XCTAssertEqual(initiatorSide.peerNodeID, responderIdentity.nodeID)
        XCTAssertEqual(responderSide.peerAddresses, ["10.0.0.1:1"])
        XCTAssertEqual(initiatorSide.peerAddresses, ["10.0.0.2:2"])
        XCTAssertEqual(responderSide.handshakeHash, initiatorSide.handshakeHash)
        XCTAssertEqual(responderSide.keyIndex, 0)
    }

    func testDisjointVersionsAreRefusedOnBothSidesWithBothRanges() throws {
        let run = try handshake(initiatorVersions: 1...1, responderVersions: 2...2)
        XCTAssertThrowsError(try SessionEstablishment.responder(run.responder, localPayload: run.responderPayload)) { error in
            XCTAssertEqual((error as? SessionError)?.code, .unsupportedProtocolVersion)
            XCTAssertTrue("\(error)".contains("1") && "\(error)".contains("2"), "\(error)")
        }
        XCTAssertThrowsError(try SessionEstablishment.initiator(helloPayload: try run.responderPayload.encode(),
                                                                ours: run.initiatorPayload, peer: peer(of: run.initiator))) { error in
            XCTAssertEqual((error as? SessionError)?.code, .unsupportedProtocolVersion)
        }
    }

    func testMalformedHelloIsRefused() throws {
        let run = try handshake(initiatorVersions: 1...1, responderVersions: 1...1)
        XCTAssertThrowsError(try SessionEstablishment.initiator(helloPayload: [0xFF, 0xFF, 0xFF], ours: run.initiatorPayload,
                                                                peer: peer(of: run.initiator))) { error in
            XCTAssertEqual((error as? SessionError)?.code, .malformedHandshakePayload)
        }
    }

    func testResponderWithoutTheInitiatorsPayloadIsRefused() throws {
        let run = try handshake(initiatorVersions: 1...1, responderVersions: 1...1)
        var completion = run.responder
        completion.peerPayload = nil
        XCTAssertThrowsError(try SessionEstablishment.responder(completion, localPayload: run.responderPayload)) { error in
            XCTAssertEqual((error as? SessionError)?.code, .malformedHandshakePayload)
        }
    }
}
