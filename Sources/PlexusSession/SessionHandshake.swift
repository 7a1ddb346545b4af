import PlexusCrypto
import PlexusNoise

/// The relay handshake on top of Noise_XXpsk3: a pure state machine (no I/O, no clock).
///
/// ```
/// initiator                                   responder
///   msg1  -> e                      (payload empty)
///   msg2  <- e, ee, s, es           (payload empty)
///   msg3  -> s, se, psk             (payload: HandshakePayload)
///   HELLO <- first transport message (payload: HandshakePayload) = key confirmation
/// ```
/// The responder does not know which keyring key the initiator used until message 3,
/// the first message that depends on the PSK; it forks the handshake state once per
/// accepted key and keeps the fork that authenticates.
///
/// Guarantees: completes only when the peer proved knowledge of an accepted network key;
/// the local payload is revealed only after the PSK is mixed in (message 3 for the
/// initiator, HELLO for the responder).
struct SessionHandshake {
    /// What the handler must do after a step.
    struct Output {
        /// Handshake message to send (length-prefixed by the caller), if any.
        var reply: [UInt8]?
        /// Set when the Noise handshake is complete.
        var completion: Completion?
    }

    struct Completion {
        var ciphers: TransportCiphers
        var peerStaticKey: X25519PublicKey
        var handshakeHash: [UInt8]
        /// The responder's view of the initiator's payload (nil on the initiator, which
        /// learns the responder's payload from HELLO).
        var peerPayload: HandshakePayload?
        var keyIndex: Int
        var cipher: NoiseCipher
    }

    private var state: HandshakeState
    /// Responder, before message 1: one fresh state per accepted cipher, in preference order;
    /// message 1 authenticates under exactly the initiator's suite (its empty payload carries a
    /// tag keyed from the protocol name), which picks the state to continue with.
    private var candidates: [HandshakeState]
    private let keyring: Keyring
    let localPayload: HandshakePayload

    init(configuration: SessionConfiguration) throws {
        keyring = configuration.keyring
        localPayload = HandshakePayload(versions: configuration.supportedVersions, addresses: configuration.advertisedAddresses)
        _ = try localPayload.encode() // validate early
        func fresh(_ cipher: NoiseCipher) throws -> HandshakeState {
            try HandshakeState(
                pattern: .XXpsk3, role: configuration.role, prologue: SessionLimits.prologue,
                staticKeyPair: configuration.identity.keyPair,
                presharedKeys: configuration.role == .initiator ? [configuration.keyring.primary] : [],
                cipher: cipher)
        }
        if configuration.role == .initiator {
            state = try fresh(configuration.proposedCipher)
            candidates = []
        } else {
            candidates = try configuration.acceptedCiphers.filter(\.isAvailable).map(fresh)
            state = try candidates.first ?? fresh(.chaChaPoly)
        }
    }

    /// The cipher of the suite this handshake runs (the responder's is settled by message 1).
    var cipher: NoiseCipher { state.cipher }

    /// An initiator that sent message 1 and has no answer yet.
    var awaitsFirstAnswer: Bool { state.role == .initiator && state.messageIndex == 1 }

    var role: NoiseRole { state.role }

    /// The initiator's first message.
    mutating func start() throws -> [UInt8] {
        precondition(state.role == .initiator && state.messageIndex == 0)
        return try state.writeMessage()
    }

    /// Processes one peer handshake message.
    mutating func receive(_ message: [UInt8]) throws -> Output {
        switch (state.role, state.messageIndex) {
        case (.responder, 0):
            try readUnderEachCipher(message)                 // msg1: e (payload must be empty)
            return Output(reply: try state.writeMessage(), completion: nil)  // msg2
        case (.initiator, 1):
            _ = try state.readMessage(message)               // msg2
            let reply = try state.writeMessage(payload: try localPayload.encode())  // msg3
            return Output(reply: reply, completion: try complete(peerPayload: nil, keyIndex: 0))
        case (.responder, 2):
            let (payloadBytes, keyIndex) = try readWithEachKey(message)
            let payload = try HandshakePayload.decode(payloadBytes)
            return Output(reply: nil, completion: try complete(peerPayload: payload, keyIndex: keyIndex))
        default:
            throw NoiseError.unexpectedMessage("unexpected handshake message \(state.messageIndex + 1)")
        }
    }

    /// Message 1 under each accepted cipher's suite; the first that authenticates is the session's.
    private mutating func readUnderEachCipher(_ message: [UInt8]) throws {
        var firstError: Error?
        for candidate in candidates {
            var fork = candidate
            do {
                _ = try fork.readMessage(message)
                state = fork
                candidates = []
                return
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        candidates = []
        throw firstError ?? NoiseError.unexpectedMessage("no Noise cipher is accepted")
    }

    /// Tries message 3 under each accepted key, primary first.
    private mutating func readWithEachKey(_ message: [UInt8]) throws -> ([UInt8], Int) {
        var firstError: Error?
        for (index, key) in keyring.acceptedKeys.enumerated() {
            var fork = state
            fork.setPresharedKeys([key])
            do {
                let payload = try fork.readMessage(message)
                state = fork
                return (payload, index)
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        throw firstError!
    }

    private func complete(peerPayload: HandshakePayload?, keyIndex: Int) throws -> Completion {
        guard let peerStatic = state.remoteStatic else { throw NoiseError.missingKey("peer static key missing") }
        return Completion(ciphers: try state.split(), peerStaticKey: peerStatic, handshakeHash: state.handshakeHash,
                          peerPayload: peerPayload, keyIndex: keyIndex, cipher: state.cipher)
    }
}
