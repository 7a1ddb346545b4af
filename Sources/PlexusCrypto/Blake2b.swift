import CSodium

/// BLAKE2b-512 (`crypto_generichash`, unkeyed), plus HMAC and HKDF built from it exactly
/// as the Noise specification (rev 34, section 4.3) defines them: HMAC per RFC 2104 with
/// BLOCKLEN 128, HKDF with the chaining key as salt and up to three 64-byte outputs.
public enum Blake2b {
    /// HASHLEN: output length in bytes.
    public static let hashLength = 64
    /// BLOCKLEN: the internal block length used by HMAC.
    public static let blockLength = 128

    /// BLAKE2b-512 of `input`.
    public static func hash(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: hashLength)
        _ = crypto_generichash(&out, hashLength, input.baseAddress?.assumingMemoryBound(to: UInt8.self),
                               UInt64(input.count), nil, 0)
        return out
    }

    /// BLAKE2b-512 of a byte array.
    public static func hash(_ input: [UInt8]) -> [UInt8] { input.withUnsafeBytes { hash($0) } }

    /// BLAKE2b-512 of the concatenation of `parts` (incremental API).
    public static func hash(parts: [UnsafeRawBufferPointer]) -> [UInt8] {
        Sodium.ensureInitialized()
        let state = Blake2bState()
        for part in parts { state.update(part) }
        return state.finish()
    }

    /// HMAC-BLAKE2b(key, data) per RFC 2104; `key` must be at most BLOCKLEN bytes
    /// (Noise only ever passes HASHLEN-byte keys). The result is secret.
    public static func hmac(key: UnsafeRawBufferPointer, data: [UnsafeRawBufferPointer]) -> SecretBytes {
        precondition(key.count <= blockLength, "HMAC key longer than BLOCKLEN")
        let pad = UnsafeMutableRawBufferPointer.allocate(byteCount: blockLength, alignment: 16)
        defer { SecretBytes.wipe(pad); pad.deallocate() }
        let inner = UnsafeMutableRawBufferPointer.allocate(byteCount: hashLength, alignment: 16)
        defer { SecretBytes.wipe(inner); inner.deallocate() }

        // inner = H((K ^ ipad) || data)
        fillPad(pad, key: key, byte: 0x36)
        let innerState = Blake2bState()
        innerState.update(UnsafeRawBufferPointer(pad))
        for part in data { innerState.update(part) }
        innerState.finish(into: inner)

        // outer = H((K ^ opad) || inner)
        fillPad(pad, key: key, byte: 0x5c)
        return SecretBytes(count: hashLength) { out in
            let outerState = Blake2bState()
            outerState.update(UnsafeRawBufferPointer(pad))
            outerState.update(UnsafeRawBufferPointer(inner))
            outerState.finish(into: out)
        }
    }

    /// Noise HKDF(chaining_key, input_key_material, num_outputs) with 2 or 3 outputs,
    /// each HASHLEN bytes and secret.
    public static func hkdf(chainingKey: SecretBytes, inputKeyMaterial: UnsafeRawBufferPointer,
                            outputs: Int) -> [SecretBytes] {
        precondition(outputs == 2 || outputs == 3, "Noise HKDF produces 2 or 3 outputs")
        let tempKey = chainingKey.withUnsafeBytes { hmac(key: $0, data: [inputKeyMaterial]) }
        var one: UInt8 = 1
        let output1 = tempKey.withUnsafeBytes { tk in
            withUnsafeBytes(of: &one) { hmac(key: tk, data: [$0]) }
        }
        var two: UInt8 = 2
        let output2 = tempKey.withUnsafeBytes { tk in
            output1.withUnsafeBytes { o1 in withUnsafeBytes(of: &two) { hmac(key: tk, data: [o1, $0]) } }
        }
        guard outputs == 3 else { return [output1, output2] }
        var three: UInt8 = 3
        let output3 = tempKey.withUnsafeBytes { tk in
            output2.withUnsafeBytes { o2 in withUnsafeBytes(of: &three) { hmac(key: tk, data: [o2, $0]) } }
        }
        return [output1, output2, output3]
    }

    private static func fillPad(_ pad: UnsafeMutableRawBufferPointer, key: UnsafeRawBufferPointer, byte: UInt8) {
        for i in 0..<blockLength {
            pad[i] = (i < key.count ? key[i] : 0) ^ byte
        }
    }
}

/// Incremental BLAKE2b-512 state in 64-byte aligned memory (libsodium requires the
/// alignment), wiped when released.
final class Blake2bState {
    private let state: UnsafeMutableRawPointer
    private let size: Int

    init() {
        size = crypto_generichash_statebytes()
        state = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        _ = crypto_generichash_init(OpaquePointer(state), nil, 0, Blake2b.hashLength)
    }

    deinit {
        sodium_memzero(state, size)
        state.deallocate()
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        _ = crypto_generichash_update(OpaquePointer(state),
                                      bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }

    func finish(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= Blake2b.hashLength)
        _ = crypto_generichash_final(OpaquePointer(state),
                                     out.baseAddress!.assumingMemoryBound(to: UInt8.self), Blake2b.hashLength)
    }

    func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Blake2b.hashLength)
        out.withUnsafeMutableBytes { finish(into: $0) }
        return out
    }
}
