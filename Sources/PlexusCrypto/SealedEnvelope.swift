import CSodium
import PlexusVocabulary

/// What a sealed payload is (bound in the associated data, so one kind cannot pass for another).
public enum SealedKind: UInt8, Sendable, Hashable {
    case request = 1, reply = 2, fault = 3, broadcast = 4, event = 5, tunnel = 6
}

/// Which way a sealed payload travels: toward the serving side (request, initiator → acceptor
/// tunnel data, fan-out) or back toward the origin (reply, fault, acceptor → initiator data).
public enum SealDirection: UInt8, Sendable, Hashable {
    case towardServer = 0, towardOrigin = 1
}

/// The identity a sealed payload is bound to. Both sides compute it from what they know; it is
/// never sent (except `sequence` for fan-out, which travels in the envelope header).
///
/// * request / reply / fault: origin = the requesting relay, identity = its request id.
/// * broadcast / event: origin = the sending relay, identity = 0, sequence = its per-relay counter.
/// * tunnel: origin = the initiating relay, identity = its tunnel id, sequence = the chunk's number
///   in its direction (0, 1, 2, …), so chunks cannot be dropped, repeated or reordered unnoticed.
public struct SealContext: Sendable, Hashable {
    public var kind: SealedKind
    public var direction: SealDirection
    public var name: ProtectedName
    public var origin: NodeID
    public var identity: UInt64
    public var sequence: UInt64

    public init(kind: SealedKind, direction: SealDirection, name: ProtectedName, origin: NodeID, identity: UInt64,
                sequence: UInt64 = 0) {
        self.kind = kind
        self.direction = direction
        self.name = name
        self.origin = origin
        self.identity = identity
        self.sequence = sequence
    }
}

/// The public header of a sealed payload.
public struct SealedHeader: Sendable, Hashable {
    public let suite: SealSuite
    public let fingerprint: ClusterKeyFingerprint
    public let sequence: UInt64
}

/// End-to-end sealing of a protected name's payloads between relays, on top of the relay-to-relay
/// Noise session. Two suites, told apart by the first byte (all integers big-endian):
///
/// ```
/// suite 1 = 01 ‖ key fingerprint (8) ‖ sequence u64 ‖ nonce (24)                 ‖ ciphertext ‖ tag (16)
/// suite 2 = 02 ‖ key fingerprint (8) ‖ sequence u64 ‖ epoch (16) ‖ counter u64    ‖ ciphertext ‖ tag (16)
/// AD      = "plexus-seal-v1" (suite 1) or "plexus-seal-v2" (suite 2) ‖ kind u8 ‖ direction u8
///           ‖ origin node ID (16) ‖ identity u64 ‖ sequence u64 ‖ key fingerprint (8)
///           ‖ kind of name u8 ‖ name length u16 ‖ name
/// ```
///
/// Suite 1: `crypto_aead_xchacha20poly1305_ietf` under the seal subkey of the cluster key, a random
/// nonce. Suite 2: AES-256-GCM under the sender epoch's key, nonce = 4 zero bytes ‖ counter
/// (`FastSealState`). Both add 57 bytes.
///
/// Guarantees: `open` returns plaintext only when the tag verifies under a key of the set with
/// the header's fingerprint and the receiver's own `SealContext`; anything else (truncation, an
/// unknown version or key, tampering, another name, kind, direction, request, relay or chunk)
/// throws and returns nothing.
public enum SealedEnvelope {
    /// Format version byte of suite 1 (XChaCha20-Poly1305).
    public static let version: UInt8 = SealSuite.xchacha20poly1305.rawValue
    /// Bytes before the ciphertext.
    public static let headerLength = 1 + ClusterKeyFingerprint.byteCount + 8 + XChaChaPoly.nonceLength
    /// Bytes a sealed payload adds to its plaintext (header + tag): 57.
    public static let overhead = headerLength + XChaChaPoly.tagLength
    /// Domain-separation prefix of the associated data (suite 1).
    public static let domain = "plexus-seal-v1"
    /// Domain-separation prefix of the associated data (suite 2).
    public static let fastDomain = "plexus-seal-v2"
    private static let domainBytes = Array(domain.utf8)
    private static let fastDomainBytes = Array(fastDomain.utf8)

    /// Seals `plaintext` under `key`'s seal subkey into `out`, which must hold at least
    /// `plaintext.count + overhead` bytes; returns the bytes written. `nonce` is random unless
    /// given (tests). Writes straight into the caller's buffer (no intermediate copy).
    public static func seal(_ plaintext: UnsafeRawBufferPointer, key: ClusterKey, context: SealContext,
                            nonce: [UInt8]? = nil, into out: UnsafeMutableRawBufferPointer) -> Int {
        seal(plaintext, key: key, context: context, into: out) { noncePointer in
            if let nonce {
                precondition(nonce.count == XChaChaPoly.nonceLength, "XChaCha20-Poly1305 nonce must be 24 bytes")
                nonce.withUnsafeBytes { UnsafeMutableRawBufferPointer(start: noncePointer, count: XChaChaPoly.nonceLength).copyMemory(from: $0) }
            } else {
                randombytes_buf(noncePointer, XChaChaPoly.nonceLength)
            }
        }
    }

    /// `seal` with its random nonce taken from `nonces` (one `getrandom` per `NoncePool.capacity`
    /// nonces instead of one per payload).
    public static func seal(_ plaintext: UnsafeRawBufferPointer, key: ClusterKey, context: SealContext,
                            nonces: inout NoncePool, into out: UnsafeMutableRawBufferPointer) -> Int {
        seal(plaintext, key: key, context: context, into: out) { nonces.next(into: $0) }
    }

    private static func seal(_ plaintext: UnsafeRawBufferPointer, key: ClusterKey, context: SealContext,
                             into out: UnsafeMutableRawBufferPointer,
                             fillNonce: (UnsafeMutablePointer<UInt8>) -> Void) -> Int {
        Sodium.ensureInitialized()
        let length = plaintext.count + overhead
        precondition(out.count >= length, "sealed output buffer too small")
        let base = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
        base[0] = version
        var fingerprint = key.fingerprint.value.bigEndian
        withUnsafeBytes(of: &fingerprint) { UnsafeMutableRawBufferPointer(rebasing: out[1..<9]).copyMemory(from: $0) }
        var sequence = context.sequence.bigEndian
        withUnsafeBytes(of: &sequence) { UnsafeMutableRawBufferPointer(rebasing: out[9..<17]).copyMemory(from: $0) }
        let noncePointer = base + 17
        fillNonce(noncePointer)
        var written: UInt64 = 0
        withAssociatedData(context, fingerprint: key.fingerprint, suite: .xchacha20poly1305) { ad in
            key.sealKey.secret.withUnsafeBytes { k in
                _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                    base + headerLength, &written, plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self),
                    UInt64(plaintext.count), ad.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(ad.count), nil,
                    noncePointer, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return length
    }

    /// Convenience: the sealed bytes as an array.
    public static func seal(_ plaintext: UnsafeRawBufferPointer, key: ClusterKey, context: SealContext,
                            nonce: [UInt8]? = nil) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: plaintext.count + overhead) { buffer, count in
            count = seal(plaintext, key: key, context: context, nonce: nonce, into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// Convenience over a byte array.
    public static func seal(_ plaintext: [UInt8], key: ClusterKey, context: SealContext, nonce: [UInt8]? = nil) -> [UInt8] {
        plaintext.withUnsafeBytes { seal($0, key: key, context: context, nonce: nonce) }
    }

    /// Reads the public header; throws `malformedSealedPayload` when the payload is shorter than
    /// header + tag or of another version.
    public static func header(_ sealed: UnsafeRawBufferPointer) throws -> SealedHeader {
        guard sealed.count >= overhead else {
            throw CryptoError(code: .malformedSealedPayload,
                              message: "sealed payload of \(sealed.count) bytes, shorter than the \(overhead)-byte header and tag")
        }
        guard SealSuite(rawValue: sealed[0]) != nil else {
            throw CryptoError(code: .malformedSealedPayload,
                              message: "sealed payload of format version \(sealed[0]), expected \(SealSuite.allCases.map(\.rawValue))")
        }
        // Whole 64-bit loads (the length was checked above), no generic slice arithmetic.
        return SealedHeader(suite: SealSuite(rawValue: sealed[0]) ?? .xchacha20poly1305,
                            fingerprint: ClusterKeyFingerprint(value: readBigEndian(sealed, at: 1)),
                            sequence: readBigEndian(sealed, at: 9))
    }

    /// The plaintext length of a sealed payload of `sealedCount` bytes (0 if it is too short).
    public static func plaintextCount(sealedCount: Int) -> Int { max(0, sealedCount - overhead) }

    /// Bytes `open` needs in its output buffer for a sealed payload of `sealedCount` bytes (the
    /// plaintext and room for the tag: suite 2 opens in place).
    public static func openBufferCount(sealedCount: Int) -> Int { max(0, sealedCount - headerLength) }

    /// Opens `sealed` of either suite into `out` (at least `openBufferCount(sealedCount:)` bytes)
    /// with the key of `keys` its header names, bound to `context` (whose `sequence` must equal
    /// the one sealed); returns the plaintext length. `out` holds nothing usable when this throws.
    /// Suite 2 needs `fast` enabled (AES-NI) and keeps the sender epoch's key there once it opened.
    public static func open(_ sealed: UnsafeRawBufferPointer, keys: ClusterKeySet, context: SealContext,
                            fast: inout FastSealState, into out: UnsafeMutableRawBufferPointer) throws -> Int {
        let header = try header(sealed)
        guard header.suite == .aes256gcm else {
            return try openSuite1(sealed, header: header, keys: keys, context: context, into: out)
        }
        // `keys` (this name's keys) must hold the header's key: the epoch keys `fast` keeps are
        // shared by every name, so this check is what keeps one name's key from opening another's.
        guard keys.holds(header.fingerprint) else {
            throw CryptoError(code: .unknownClusterKey,
                              message: "sealed with key \(header.fingerprint), which this relay does not hold for \(context.name)")
        }
        guard header.sequence == context.sequence else { throw CryptoError.authenticationFailed }
        let epoch = SealEpoch(high: readBigEndian(sealed, at: 17), low: readBigEndian(sealed, at: 25))
        guard let (aes, isNew) = fast.openingKey(header.fingerprint, in: keys, epoch: epoch) else {
            throw CryptoError(code: .malformedSealedPayload,
                              message: "sealed with AES-256-GCM (suite 2), which this relay does not open (no AES-NI)")
        }
        let counter = readBigEndian(sealed, at: 33)
        let cipherLength = sealed.count - headerLength
        precondition(out.count >= cipherLength - AESGCM.tagLength, "plaintext output buffer too small")
        // Decrypted straight from the sealed bytes into `out` (no copy first); libsodium zeroes
        // the output when the tag does not verify.
        let opened = try withAssociatedData(context, fingerprint: header.fingerprint, suite: .aes256gcm) { ad in
            try AESGCM.open(key: aes, nonce: AESGCM.noiseNonce(counter), associatedData: ad,
                            ciphertext: UnsafeRawBufferPointer(rebasing: sealed[headerLength...]), into: out)
        }
        if isNew { fast.keep(aes, for: header.fingerprint, epoch: epoch) }
        return opened
    }

    /// Seals `plaintext` with suite 2 (AES-256-GCM, the next counter of `fast`) into `out` (at
    /// least `plaintext.count + overhead` bytes); returns the bytes written, or nil when `fast`
    /// is not enabled (then seal with suite 1).
    public static func sealFast(_ plaintext: UnsafeRawBufferPointer, key: ClusterKey, context: SealContext,
                                fast: inout FastSealState, into out: UnsafeMutableRawBufferPointer) -> Int? {
        guard let (aes, epoch, counter) = fast.nextSending(key) else { return nil }
        let length = plaintext.count + overhead
        precondition(out.count >= length, "sealed output buffer too small")
        out[0] = SealSuite.aes256gcm.rawValue
        writeBigEndian(key.fingerprint.value, to: out, at: 1)
        writeBigEndian(context.sequence, to: out, at: 9)
        writeBigEndian(epoch.high, to: out, at: 17)
        writeBigEndian(epoch.low, to: out, at: 25)
        writeBigEndian(counter, to: out, at: 33)
        let body = UnsafeMutableRawBufferPointer(rebasing: out[headerLength..<length])
        // Encrypted straight from the caller's plaintext into `out` (no copy first).
        withAssociatedData(context, fingerprint: key.fingerprint, suite: .aes256gcm) { ad in
            _ = AESGCM.seal(key: aes, nonce: AESGCM.noiseNonce(counter), associatedData: ad, plaintext: plaintext, into: body)
        }
        return length
    }

    /// Convenience: `plaintext` sealed with suite 2 as an array (nil without AES-NI).
    public static func sealFast(_ plaintext: [UInt8], key: ClusterKey, context: SealContext,
                                fast: inout FastSealState) -> [UInt8]? {
        var written: Int?
        let sealed = plaintext.withUnsafeBytes { plain in
            [UInt8](unsafeUninitializedCapacity: plain.count + overhead) { buffer, count in
                written = sealFast(plain, key: key, context: context, fast: &fast, into: UnsafeMutableRawBufferPointer(buffer))
                count = written ?? 0
            }
        }
        return written == nil ? nil : sealed
    }

    @inline(__always)
    static func writeBigEndian(_ value: UInt64, to out: UnsafeMutableRawBufferPointer, at offset: Int) {
        out.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt64.self)
    }

    @inline(__always)
    static func readBigEndian(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Opens a payload of either suite with a fresh `FastSealState` for suite 2 (tests, fuzzing;
    /// the relay core keeps one state so that it derives each sender's key once).
    public static func open(_ sealed: UnsafeRawBufferPointer, keys: ClusterKeySet, context: SealContext,
                            into out: UnsafeMutableRawBufferPointer) throws -> Int {
        let header = try header(sealed)
        guard header.suite == .xchacha20poly1305 else {
            var fast = FastSealState()
            return try open(sealed, keys: keys, context: context, fast: &fast, into: out)
        }
        return try openSuite1(sealed, header: header, keys: keys, context: context, into: out)
    }

    private static func openSuite1(_ sealed: UnsafeRawBufferPointer, header: SealedHeader, keys: ClusterKeySet,
                                   context: SealContext, into out: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let key = keys.key(for: header.fingerprint) else {
            throw CryptoError(code: .unknownClusterKey,
                              message: "sealed with key \(header.fingerprint), which this relay does not hold for \(context.name)")
        }
        // The header's sequence is what was bound at sealing; it must be the one expected here.
        guard header.sequence == context.sequence else { throw CryptoError.authenticationFailed }
        let cipherLength = sealed.count - headerLength
        precondition(out.count >= cipherLength - XChaChaPoly.tagLength, "plaintext output buffer too small")
        var written: UInt64 = 0
        let base = sealed.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let rc = withAssociatedData(context, fingerprint: header.fingerprint, suite: .xchacha20poly1305) { ad in
            key.sealKey.secret.withUnsafeBytes { k in
                crypto_aead_xchacha20poly1305_ietf_decrypt(
                    out.baseAddress?.assumingMemoryBound(to: UInt8.self), &written, nil, base + headerLength,
                    UInt64(cipherLength), ad.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(ad.count), base + 17,
                    k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard rc == 0 else { throw CryptoError.authenticationFailed }
        return Int(written)
    }

    /// Convenience: the plaintext as an array.
    public static func open(_ sealed: UnsafeRawBufferPointer, keys: ClusterKeySet, context: SealContext) throws -> [UInt8] {
        var failure: (any Error)?
        let plaintext = [UInt8](unsafeUninitializedCapacity: max(1, openBufferCount(sealedCount: sealed.count))) { buffer, count in
            do {
                count = try open(sealed, keys: keys, context: context, into: UnsafeMutableRawBufferPointer(buffer))
            } catch {
                failure = error
                count = 0
            }
        }
        if let failure { throw failure }
        return plaintext
    }

    /// Convenience over a byte array.
    public static func open(_ sealed: [UInt8], keys: ClusterKeySet, context: SealContext) throws -> [UInt8] {
        try sealed.withUnsafeBytes { try open($0, keys: keys, context: context) }
    }

    /// The associated data of `context` under the key with `fingerprint`, for `suite`.
    public static func associatedData(_ context: SealContext, fingerprint: ClusterKeyFingerprint,
                                      suite: SealSuite = .xchacha20poly1305) -> [UInt8] {
        withAssociatedData(context, fingerprint: fingerprint, suite: suite) { Array($0) }
    }

    /// Bytes of the associated data before the name.
    static let associatedDataFixedLength = domain.utf8.count + 2 + 16 + 8 + 8 + 8 + 3

    /// Builds the associated data in temporary (stack) memory and hands it to `body`: no
    /// allocation per sealed or opened payload, integers stored whole.
    @inline(__always)
    static func withAssociatedData<R>(_ context: SealContext, fingerprint: ClusterKeyFingerprint, suite: SealSuite,
                                      _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let count = associatedDataFixedLength + context.name.name.count
        return try withUnsafeTemporaryAllocation(byteCount: count, alignment: 8) { buffer in
            let prefix = suite == .aes256gcm ? fastDomainBytes : domainBytes
            prefix.withUnsafeBytes { buffer.copyMemory(from: $0) }
            var offset = prefix.count
            buffer[offset] = context.kind.rawValue
            buffer[offset + 1] = context.direction.rawValue
            offset += 2
            writeBigEndian(context.origin.high, to: buffer, at: offset)
            writeBigEndian(context.origin.low, to: buffer, at: offset + 8)
            writeBigEndian(context.identity, to: buffer, at: offset + 16)
            writeBigEndian(context.sequence, to: buffer, at: offset + 24)
            writeBigEndian(fingerprint.value, to: buffer, at: offset + 32)
            offset += 40
            buffer[offset] = context.name.kind.rawValue
            buffer.storeBytes(of: UInt16(context.name.name.count).bigEndian, toByteOffset: offset + 1, as: UInt16.self)
            offset += 3
            context.name.name.withUnsafeBytes {
                UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<offset + $0.count]).copyMemory(from: $0)
            }
            return try body(UnsafeRawBufferPointer(buffer))
        }
    }
}
