import PlexusCrypto

/// A Noise SymmetricState: chaining key `ck`, handshake hash `h` and a CipherState
/// (spec section 5.2), with HASH = BLAKE2b and HKDF over HMAC-BLAKE2b.
///
/// Guarantees: value semantics (every mix replaces the immutable secret objects), so a
/// copy can be used to try an alternative continuation (the keyring does this).
public struct SymmetricState: Sendable {
    public private(set) var chainingKey: SecretBytes
    public private(set) var handshakeHash: [UInt8]
    public private(set) var cipherState: CipherState

    /// InitializeSymmetric(protocol_name); `cipher` must be the cipher the name names.
    public init(protocolName: String, cipher: NoiseCipher = .chaChaPoly) {
        cipherState = CipherState(cipher: cipher)
        let name = Array(protocolName.utf8)
        if name.count <= Blake2b.hashLength {
            handshakeHash = name + [UInt8](repeating: 0, count: Blake2b.hashLength - name.count)
        } else {
            handshakeHash = Blake2b.hash(name)
        }
        chainingKey = handshakeHash.withUnsafeBytes { SecretBytes(copying: $0) }
    }

    /// MixKey(input_key_material).
    public mutating func mixKey(_ inputKeyMaterial: UnsafeRawBufferPointer) {
        let outputs = Blake2b.hkdf(chainingKey: chainingKey, inputKeyMaterial: inputKeyMaterial, outputs: 2)
        chainingKey = outputs[0]
        cipherState.initializeKey(CipherKey(truncating: outputs[1]))
    }

    /// MixHash(data).
    public mutating func mixHash(_ data: UnsafeRawBufferPointer) {
        handshakeHash = handshakeHash.withUnsafeBytes { Blake2b.hash(parts: [$0, data]) }
    }

    public mutating func mixHash(_ data: [UInt8]) { data.withUnsafeBytes { mixHash($0) } }

    /// MixKeyAndHash(input_key_material), used for `psk` tokens.
    public mutating func mixKeyAndHash(_ inputKeyMaterial: UnsafeRawBufferPointer) {
        let outputs = Blake2b.hkdf(chainingKey: chainingKey, inputKeyMaterial: inputKeyMaterial, outputs: 3)
        chainingKey = outputs[0]
        outputs[1].withUnsafeBytes { mixHash($0) }
        cipherState.initializeKey(CipherKey(truncating: outputs[2]))
    }

    /// EncryptAndHash(plaintext).
    public mutating func encryptAndHash(_ plaintext: [UInt8]) throws -> [UInt8] {
        let ciphertext = try cipherState.encrypt(associatedData: handshakeHash, plaintext: plaintext)
        mixHash(ciphertext)
        return ciphertext
    }

    /// DecryptAndHash(ciphertext).
    public mutating func decryptAndHash(_ ciphertext: [UInt8], what: String) throws -> [UInt8] {
        let plaintext = try cipherState.decrypt(associatedData: handshakeHash, ciphertext: ciphertext, what: what)
        mixHash(ciphertext)
        return plaintext
    }

    /// Split(): two CipherStates, the first for initiator → responder.
    public func split() -> (CipherState, CipherState) {
        let outputs = Blake2b.hkdf(chainingKey: chainingKey, inputKeyMaterial: UnsafeRawBufferPointer(start: nil, count: 0), outputs: 2)
        let cipher = cipherState.cipher
        return (CipherState(key: CipherKey(truncating: outputs[0]), cipher: cipher),
                CipherState(key: CipherKey(truncating: outputs[1]), cipher: cipher))
    }
}
