import CSodium

extension AESGCM {
    /// Decrypts `ciphertext` (ciphertext followed by tag) into `plaintext`, which must not overlap
    /// it and must hold `ciphertext.count - tagLength` bytes. Returns the plaintext length; throws
    /// `authenticationFailed` (leaving no plaintext to use) when the tag does not verify. Used by
    /// the Noise transport reader, which decrypts from the socket's buffer into the frame buffer.
    @inline(__always)
    public static func open(key: AESGCMKey, nonce: Nonce, associatedData: UnsafeRawBufferPointer,
                            ciphertext: UnsafeRawBufferPointer, into plaintext: UnsafeMutableRawBufferPointer) throws -> Int {
        guard ciphertext.count >= tagLength else { throw CryptoError.authenticationFailed }
        precondition(plaintext.count >= ciphertext.count - tagLength, "plaintext buffer too small")
        var nonce = nonce
        var written: UInt64 = 0
        let rc = withUnsafeBytes(of: &nonce) { n in
            crypto_aead_aes256gcm_decrypt_afternm(
                plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), &written, nil,
                ciphertext.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(ciphertext.count),
                associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count),
                n.baseAddress!.assumingMemoryBound(to: UInt8.self), key.precomputed)
        }
        guard rc == 0 else { throw CryptoError.authenticationFailed }
        return Int(written)
    }
}

extension AESGCM {
    /// Encrypts `plaintext` into `ciphertext` (which must not overlap it and must hold
    /// `plaintext.count + tagLength` bytes: ciphertext, then tag). Returns the bytes written. The
    /// same output as `sealInPlace` without first copying the plaintext into the output (sealed
    /// cluster payloads go straight from the client's buffer into the sealed buffer).
    @inline(__always)
    public static func seal(key: AESGCMKey, nonce: Nonce, associatedData: UnsafeRawBufferPointer,
                            plaintext: UnsafeRawBufferPointer, into ciphertext: UnsafeMutableRawBufferPointer) -> Int {
        precondition(ciphertext.count >= plaintext.count + tagLength, "ciphertext buffer too small")
        var nonce = nonce
        var written: UInt64 = 0
        withUnsafeBytes(of: &nonce) { n in
            _ = crypto_aead_aes256gcm_encrypt_afternm(
                ciphertext.baseAddress!.assumingMemoryBound(to: UInt8.self), &written,
                plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(plaintext.count),
                associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count),
                nil, n.baseAddress!.assumingMemoryBound(to: UInt8.self), key.precomputed)
        }
        return Int(written)
    }
}
