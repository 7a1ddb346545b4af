import PlexusCrypto

/// Which side of the handshake this state plays.
public enum NoiseRole: Sendable, Hashable { case initiator, responder }

/// The two transport CipherStates after a completed handshake, oriented for this side.
public struct TransportCiphers: Sendable {
    /// Encrypts what this side sends.
    public var send: CipherState
    /// Decrypts what this side receives.
    public var receive: CipherState
}

/// A Noise HandshakeState (spec section 5.3) for the 25519/ChaChaPoly/BLAKE2b suite (or
/// 25519/AESGCM/BLAKE2b, `cipher`),
/// driven by a `HandshakePattern` given as data. A pure state machine: no I/O, no clock.
///
/// Guarantees: messages are processed strictly in pattern order and direction (anything
/// else throws `unexpectedMessage`); every handshake message is at most 65535 bytes;
/// after any thrown error the state must be discarded. Value semantics: copying the state
/// forks the handshake (used by the responder to try each keyring key on the message that
/// carries the PSK).
public struct HandshakeState: Sendable {
    /// The cipher suite part of the protocol name of the mandatory suite.
    public static let suite = NoiseCipher.chaChaPoly.suite

    public let pattern: HandshakePattern
    public let role: NoiseRole
    /// The suite's cipher functions (part of the protocol name, so both sides must agree).
    public let cipher: NoiseCipher
    private var symmetric: SymmetricState
    private var localStatic: X25519KeyPair?
    private var localEphemeral: X25519KeyPair?
    private var fixedEphemeral: X25519KeyPair?
    public private(set) var remoteStatic: X25519PublicKey?
    public private(set) var remoteEphemeral: X25519PublicKey?
    private var presharedKeys: [NetworkKey]
    /// Index of the next message of the pattern to write or read.
    public private(set) var messageIndex = 0

    /// InitializeHandshakeState. `presharedKeys` are consumed in order by `psk` tokens;
    /// `fixedEphemeral` exists for test vectors only (normally a fresh ephemeral is
    /// generated). Throws `cipherUnavailable` for a cipher this CPU cannot run.
    public init(pattern: HandshakePattern, role: NoiseRole, prologue: [UInt8] = [],
                staticKeyPair: X25519KeyPair? = nil, remoteStaticKey: X25519PublicKey? = nil,
                presharedKeys: [NetworkKey] = [], fixedEphemeral: X25519KeyPair? = nil,
                cipher: NoiseCipher = .chaChaPoly) throws {
        guard cipher.isAvailable else { throw NoiseError.cipherUnavailable(cipher) }
        self.pattern = pattern
        self.role = role
        self.cipher = cipher
        self.symmetric = SymmetricState(protocolName: "Noise_\(pattern.name)_\(cipher.suite)", cipher: cipher)
        self.localStatic = staticKeyPair
        self.remoteStatic = remoteStaticKey
        self.presharedKeys = presharedKeys
        self.fixedEphemeral = fixedEphemeral
        symmetric.mixHash(prologue)
        try processPreMessage(pattern.initiatorPreMessage, local: role == .initiator)
        try processPreMessage(pattern.responderPreMessage, local: role == .responder)
    }

    /// True once every message of the pattern has been written or read.
    public var isComplete: Bool { messageIndex >= pattern.messages.count }

    /// True if the next message is ours to write.
    public var isOurTurn: Bool {
        !isComplete && (pattern.initiatorSends(message: messageIndex) == (role == .initiator))
    }

    /// The handshake hash `h` (channel binding value once complete).
    public var handshakeHash: [UInt8] { symmetric.handshakeHash }

    /// Replaces the queue of PSKs not yet consumed (the responder uses this to try each
    /// keyring key on a forked copy).
    public mutating func setPresharedKeys(_ keys: [NetworkKey]) { presharedKeys = keys }

    /// WriteMessage(payload): returns the handshake message bytes.
    public mutating func writeMessage(payload: [UInt8] = []) throws -> [UInt8] {
        guard isOurTurn else { throw NoiseError.unexpectedMessage("not our turn to write handshake message \(messageIndex + 1)") }
        var out: [UInt8] = []
        for token in pattern.messages[messageIndex] {
            switch token {
            case .e:
                let ephemeral = fixedEphemeral ?? X25519KeyPair.generate()
                fixedEphemeral = nil
                localEphemeral = ephemeral
                out += ephemeral.publicKey.bytes
                symmetric.mixHash(ephemeral.publicKey.bytes)
                if pattern.isPSK { ephemeral.publicKey.bytes.withUnsafeBytes { symmetric.mixKey($0) } }
            case .s:
                guard let localStatic else { throw NoiseError.missingKey("pattern sends s but no static key was given") }
                out += try symmetric.encryptAndHash(localStatic.publicKey.bytes)
            case .psk:
                try mixNextPresharedKey()
            case .ee, .es, .se, .ss:
                try mixDH(token)
            }
        }
        out += try symmetric.encryptAndHash(payload)
        guard out.count <= NoiseLimits.maximumMessageLength else { throw NoiseError.messageTooLong(length: out.count) }
        messageIndex += 1
        return out
    }

    /// ReadMessage(message): returns the decrypted payload.
    public mutating func readMessage(_ message: [UInt8]) throws -> [UInt8] {
        guard !isComplete, !isOurTurn else {
            throw NoiseError.unexpectedMessage("did not expect a handshake message from the peer now")
        }
        guard message.count <= NoiseLimits.maximumMessageLength else { throw NoiseError.messageTooLong(length: message.count) }
        let what = "handshake message \(messageIndex + 1)"
        var offset = 0
        func take(_ count: Int) throws -> [UInt8] {
            guard message.count - offset >= count else {
                throw NoiseError.messageTooShort(what, length: message.count, needed: offset + count)
            }
            defer { offset += count }
            return Array(message[offset..<offset + count])
        }
        for token in pattern.messages[messageIndex] {
            switch token {
            case .e:
                let bytes = try take(NoiseLimits.dhLength)
                remoteEphemeral = try X25519PublicKey(bytes: bytes)
                symmetric.mixHash(bytes)
                if pattern.isPSK { bytes.withUnsafeBytes { symmetric.mixKey($0) } }
            case .s:
                let length = NoiseLimits.dhLength + (symmetric.cipherState.hasKey ? NoiseLimits.tagLength : 0)
                let bytes = try take(length)
                remoteStatic = try X25519PublicKey(bytes: try symmetric.decryptAndHash(bytes, what: "\(what) (static key)"))
            case .psk:
                try mixNextPresharedKey()
            case .ee, .es, .se, .ss:
                try mixDH(token)
            }
        }
        let payload = try symmetric.decryptAndHash(Array(message[offset...]), what: what)
        messageIndex += 1
        return payload
    }

    /// Split() after the last message, oriented for this side.
    public func split() throws -> TransportCiphers {
        guard isComplete else { throw NoiseError.handshakeIncomplete }
        let (initiatorToResponder, responderToInitiator) = symmetric.split()
        if pattern.isOneWay {
            // One-way patterns: only initiator → responder is used (spec 5.3).
            return role == .initiator
                ? TransportCiphers(send: initiatorToResponder, receive: CipherState())
                : TransportCiphers(send: CipherState(), receive: initiatorToResponder)
        }
        return role == .initiator
            ? TransportCiphers(send: initiatorToResponder, receive: responderToInitiator)
            : TransportCiphers(send: responderToInitiator, receive: initiatorToResponder)
    }

    // MARK: - Tokens

    private mutating func processPreMessage(_ tokens: [NoiseToken], local: Bool) throws {
        for token in tokens {
            let key: X25519PublicKey?
            switch token {
            case .s: key = local ? localStatic?.publicKey : remoteStatic
            case .e:
                if local, localEphemeral == nil, let fixed = fixedEphemeral { localEphemeral = fixed; fixedEphemeral = nil }
                key = local ? localEphemeral?.publicKey : remoteEphemeral
            default: throw NoiseError.invalidPattern("pre-messages may only contain e and s")
            }
            guard let key else { throw NoiseError.missingKey("pre-message key \(token) was not provided") }
            symmetric.mixHash(key.bytes)
            if token == .e && pattern.isPSK { key.bytes.withUnsafeBytes { symmetric.mixKey($0) } }
        }
    }

    private mutating func mixNextPresharedKey() throws {
        guard !presharedKeys.isEmpty else { throw NoiseError.missingPresharedKey }
        let psk = presharedKeys.removeFirst()
        psk.secret.withUnsafeBytes { symmetric.mixKeyAndHash($0) }
    }

    private mutating func mixDH(_ token: NoiseToken) throws {
        // Token names are (initiator key, responder key); map them to (ours, theirs).
        let initiator = role == .initiator
        let ours: X25519KeyPair?, theirs: X25519PublicKey?
        switch token {
        case .ee: (ours, theirs) = (localEphemeral, remoteEphemeral)
        case .ss: (ours, theirs) = (localStatic, remoteStatic)
        case .es: (ours, theirs) = initiator ? (localEphemeral, remoteStatic) : (localStatic, remoteEphemeral)
        case .se: (ours, theirs) = initiator ? (localStatic, remoteEphemeral) : (localEphemeral, remoteStatic)
        default: preconditionFailure("not a DH token")
        }
        guard let ours, let theirs else { throw NoiseError.missingKey("DH token \(token) lacks a key") }
        let shared: SecretBytes
        do {
            shared = try ours.privateKey.sharedSecret(with: theirs)
        } catch {
            throw NoiseError.invalidPublicKey
        }
        shared.withUnsafeBytes { symmetric.mixKey($0) }
    }
}
