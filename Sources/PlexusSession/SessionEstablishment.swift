import PlexusCrypto
import PlexusNoise

/// The peer the Noise handshake authenticated, before the session protocol version is agreed.
struct AuthenticatedPeer: Sendable {
    var staticKey: X25519PublicKey
    var handshakeHash: [UInt8]
    /// Index into the keyring's accepted keys of the key the handshake used (0 = primary).
    var keyIndex: Int
    /// The Noise cipher both sides ran the handshake under (and encrypt the session with).
    var cipher: NoiseCipher
}

/// The step between the Noise handshake and the first application frame, as pure functions:
/// the responder confirms the key with HELLO (its `HandshakePayload`, sent even when the
/// versions do not overlap, so the initiator can report the mismatch itself), and both sides
/// agree on the highest session protocol version they share.
///
/// Guarantees: a session is established only with a version both sides support; a missing or
/// malformed peer payload and a version mismatch are `SessionError`s with the ranges named.
enum SessionEstablishment {
    /// The responder, once message 3 authenticated the initiator: the session it establishes.
    static func responder(_ completion: SessionHandshake.Completion,
                          localPayload: HandshakePayload) throws(SessionError) -> SessionEstablished {
        guard let peerPayload = completion.peerPayload else {
            throw .malformedHandshakePayload("the initiator's message 3 carried no payload")
        }
        let peer = AuthenticatedPeer(staticKey: completion.peerStaticKey, handshakeHash: completion.handshakeHash,
                                     keyIndex: completion.keyIndex, cipher: completion.cipher)
        return try agree(ours: localPayload, theirs: peerPayload, peer: peer)
    }

    /// The initiator, on the responder's HELLO: the session it establishes.
    static func initiator(helloPayload: [UInt8], ours: HandshakePayload,
                          peer: AuthenticatedPeer) throws -> SessionEstablished {
        let theirs = try HandshakePayload.decode(helloPayload)
        return try agree(ours: ours, theirs: theirs, peer: peer)
    }

    private static func agree(ours: HandshakePayload, theirs: HandshakePayload,
                              peer: AuthenticatedPeer) throws(SessionError) -> SessionEstablished {
        guard let version = ours.negotiate(with: theirs) else {
            throw .unsupportedProtocolVersion(ours: ours.versions, theirs: theirs.versions)
        }
        return SessionEstablished(peerNodeID: NodeID(staticPublicKey: peer.staticKey), peerStaticKey: peer.staticKey,
                                  peerAddresses: theirs.addresses, protocolVersion: version,
                                  handshakeHash: peer.handshakeHash, keyIndex: peer.keyIndex, cipher: peer.cipher)
    }
}
