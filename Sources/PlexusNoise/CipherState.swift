import PlexusCrypto

/// A Noise CipherState: an optional key `k` and a 64-bit nonce `n` (spec section 5.1), for
/// the suite's cipher (`NoiseCipher`).
///
/// Guarantees: a nonce is never reused (it only increases, failed decryptions do not
/// consume it, and 2^64-1 is refused); without a key, data passes through unencrypted as
/// the spec requires during the first handshake messages. Value type: copying it copies
/// the position (the key itself, and AESGCM's precomputed key schedule, are immutable and
/// shared). An AESGCM state on a CPU without hardware AES refuses every operation with
/// `cipherUnavailable` (callers check `NoiseCipher.isAvailable` first).
public struct CipherState: Sendable {
    /// The cipher functions this state runs.
    public let cipher: NoiseCipher
    public private(set) var key: CipherKey?
    public private(set) var nonce: UInt64 = 0
    /// AESGCM only: the key's expanded schedule and GHASH table, computed once per key.
    private var aesKey: AESGCMKey?

    public init(key: CipherKey? = nil, cipher: NoiseCipher = .chaChaPoly) {
        self.cipher = cipher
        if let key { initializeKey(key) }
    }

    public var hasKey: Bool { key != nil }

    /// Installs a new key and resets the nonce (InitializeKey).
    public mutating func initializeKey(_ key: CipherKey) {
        self.key = key
        nonce = 0
        if cipher == .aesGCM { aesKey = try? AESGCMKey(key) }
    }

    /// Encrypts `buffer[0..<plaintextLength]` in place, appending the tag when keyed.
    /// Returns the number of bytes written (plaintext length + 16, or plaintext length
    /// without a key).
    @inline(__always)
    public mutating func encryptInPlace(associatedData: UnsafeRawBufferPointer, buffer: UnsafeMutableRawBufferPointer,
                                        plaintextLength: Int) throws -> Int {
        guard let key else { return plaintextLength }
        guard nonce != .max else { throw NoiseError.nonceExhausted }
        let written: Int
        switch cipher {
        case .chaChaPoly:
            written = ChaChaPoly.sealInPlace(key: key, counter: nonce, associatedData: associatedData,
                                             buffer: buffer, plaintextLength: plaintextLength)
        case .aesGCM:
            guard let aesKey else { throw NoiseError.cipherUnavailable(cipher) }
            written = AESGCM.sealInPlace(key: aesKey, nonce: AESGCM.noiseNonce(nonce), associatedData: associatedData,
                                         buffer: buffer, plaintextLength: plaintextLength)
        }
        nonce += 1
        return written
    }

    /// Decrypts `buffer` (ciphertext || tag) in place; returns the plaintext length.
    @inline(__always)
    public mutating func decryptInPlace(associatedData: UnsafeRawBufferPointer, buffer: UnsafeMutableRawBufferPointer,
                                        what: @autoclosure () -> String = "transport message") throws -> Int {
        guard let key else { return buffer.count }
        guard nonce != .max else { throw NoiseError.nonceExhausted }
        guard buffer.count >= NoiseLimits.tagLength else {
            throw NoiseError.messageTooShort(what(), length: buffer.count, needed: NoiseLimits.tagLength)
        }
        do {
            let length: Int
            switch cipher {
            case .chaChaPoly:
                length = try ChaChaPoly.openInPlace(key: key, counter: nonce, associatedData: associatedData, buffer: buffer)
            case .aesGCM:
                guard let aesKey else { throw NoiseError.cipherUnavailable(cipher) }
                length = try AESGCM.openInPlace(key: aesKey, nonce: AESGCM.noiseNonce(nonce), associatedData: associatedData,
                                                buffer: buffer)
            }
            nonce += 1
            return length
        } catch let error as NoiseError {
            throw error
        } catch {
            throw NoiseError.decryptionFailed(what())
        }
    }

    /// Decrypts `ciphertext` into a separate `plaintext` buffer; returns the plaintext length.
    /// The nonce advances only if the message authenticates.
    @inline(__always)
    public mutating func decryptOutOfPlace(associatedData: UnsafeRawBufferPointer, ciphertext: UnsafeRawBufferPointer,
                                           plaintext: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let key else {
            plaintext.copyMemory(from: ciphertext)
            return ciphertext.count
        }
        guard nonce != .max else { throw NoiseError.nonceExhausted }
        guard ciphertext.count >= NoiseLimits.tagLength else {
            throw NoiseError.messageTooShort("transport message", length: ciphertext.count, needed: NoiseLimits.tagLength)
        }
        do {
            let length: Int
            switch cipher {
            case .chaChaPoly:
                length = try ChaChaPoly.open(key: key, counter: nonce, associatedData: associatedData,
                                             ciphertext: ciphertext, into: plaintext)
            case .aesGCM:
                guard let aesKey else { throw NoiseError.cipherUnavailable(cipher) }
                length = try AESGCM.open(key: aesKey, nonce: AESGCM.noiseNonce(nonce), associatedData: associatedData,
                                         ciphertext: ciphertext, into: plaintext)
            }
            nonce += 1
            return length
        } catch let error as NoiseError {
            throw error
        } catch {
            throw NoiseError.decryptionFailed("transport message")
        }
    }

    /// Array convenience for EncryptWithAd.
    public mutating func encrypt(associatedData: [UInt8], plaintext: [UInt8]) throws -> [UInt8] {
        var out = plaintext + [UInt8](repeating: 0, count: hasKey ? NoiseLimits.tagLength : 0)
        let n = try associatedData.withUnsafeBytes { ad in
            try out.withUnsafeMutableBytes { try encryptInPlace(associatedData: ad, buffer: $0, plaintextLength: plaintext.count) }
        }
        precondition(n == out.count)
        return out
    }

    /// Array convenience for DecryptWithAd.
    public mutating func decrypt(associatedData: [UInt8], ciphertext: [UInt8], what: String = "transport message") throws -> [UInt8] {
        var out = ciphertext
        let n = try associatedData.withUnsafeBytes { ad in
            try out.withUnsafeMutableBytes { try decryptInPlace(associatedData: ad, buffer: $0, what: what) }
        }
        out.removeLast(out.count - n)
        return out
    }

    /// Rekey(): k = REKEY(k), the first 32 bytes of ENCRYPT(k, 2^64-1, "", 32 zero bytes) under
    /// this state's cipher; the nonce is unchanged (spec 5.1, 11.3).
    public mutating func rekey() {
        guard let key else { return }
        switch cipher {
        case .chaChaPoly:
            self.key = ChaChaPoly.rekey(key)
        case .aesGCM:
            guard let aesKey else { return } // unusable anyway: every operation throws cipherUnavailable
            let scratch = SecretBytes(count: 32 + AESGCM.tagLength) { buffer in
                _ = AESGCM.sealInPlace(key: aesKey, nonce: AESGCM.noiseNonce(.max),
                                       associatedData: UnsafeRawBufferPointer(start: nil, count: 0),
                                       buffer: buffer, plaintextLength: 32)
            }
            let next = CipherKey(truncating: scratch)
            self.key = next
            self.aesKey = try? AESGCMKey(next)
        }
    }
}
