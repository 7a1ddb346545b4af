import Foundation
import PlexusCrypto
import PlexusTestSupport
import PlexusVocabulary
import XCTest

/// Per-cluster keys: derivation, fingerprint, claim proofs and sealed payloads, with golden bytes
/// (`Docs/cluster-keys.md` shows the same values).
final class ClusterKeyTests: XCTestCase {
    static let keyBytes: [UInt8] = Array(0..<32)
    static let otherKeyBytes: [UInt8] = Array(100..<132)
    static let nonce: [UInt8] = Array(0x40..<0x58)
    static let node = NodeID(high: 0x0102_0304_0506_0708, low: 0x090a_0b0c_0d0e_0f10)
    static let otherNode = NodeID(high: 0x0102_0304_0506_0708, low: 0x090a_0b0c_0d0e_0f11)
    static let billing = ProtectedName(kind: .cluster, name: Array("billing".utf8))!

    var key: ClusterKey { try! ClusterKey(bytes: Self.keyBytes) }
    var otherKey: ClusterKey { try! ClusterKey(bytes: Self.otherKeyBytes) }

    func requestContext(id: UInt64 = 7) -> SealContext {
        SealContext(kind: .request, direction: .towardServer, name: Self.billing, origin: Self.node, identity: id)
    }

    // MARK: Derivation and fingerprint

    func testFingerprintIsGoldenAndDiffersPerKey() throws {
        XCTAssertEqual(key.fingerprint.description, Golden.fingerprint)
        XCTAssertNotEqual(key.fingerprint, otherKey.fingerprint)
        XCTAssertFalse(key.description.contains(hexString(Self.keyBytes.prefix(4))), "the key is never shown")
        XCTAssertEqual(ClusterKeyFingerprint(bytes: key.fingerprint.bytes), key.fingerprint)
        XCTAssertNil(ClusterKeyFingerprint(bytes: [1, 2, 3]))
    }

    func testKeyOfWrongLengthIsRefused() {
        XCTAssertThrowsError(try ClusterKey(bytes: Array(repeating: 1, count: 31))) { error in
            XCTAssertEqual((error as? CryptoError)?.code, .invalidKeyLength)
        }
    }

    // MARK: Claim proofs

    func testClaimProofIsGoldenAndBoundToNodeVersionNameAndKey() {
        let proof = ClaimProof.make(key: key, name: Self.billing, node: Self.node, version: 42)
        XCTAssertEqual(hexString(proof), Golden.proof)
        XCTAssertTrue(ClaimProof.verify(proof, key: key, name: Self.billing, node: Self.node, version: 42))
        XCTAssertFalse(ClaimProof.verify(proof, key: otherKey, name: Self.billing, node: Self.node, version: 42), "another key")
        XCTAssertFalse(ClaimProof.verify(proof, key: key, name: Self.billing, node: Self.otherNode, version: 42), "another relay")
        XCTAssertFalse(ClaimProof.verify(proof, key: key, name: Self.billing, node: Self.node, version: 43), "another version")
        let topic = ProtectedName(kind: .topic, name: Array("billing".utf8))!
        XCTAssertFalse(ClaimProof.verify(proof, key: key, name: topic, node: Self.node, version: 42), "another kind")
        let other = ProtectedName(kind: .cluster, name: Array("billinG".utf8))!
        XCTAssertFalse(ClaimProof.verify(proof, key: key, name: other, node: Self.node, version: 42), "another name")
        XCTAssertFalse(ClaimProof.verify(proof.prefix(15), key: key, name: Self.billing, node: Self.node, version: 42))
        var flipped = proof
        flipped[15] ^= 1
        XCTAssertFalse(ClaimProof.verify(flipped, key: key, name: Self.billing, node: Self.node, version: 42))
    }

    // MARK: Sealing

    func testSealIsGoldenAndOpens() throws {
        let sealed = SealedEnvelope.seal(Array("hi".utf8), key: key, context: requestContext(), nonce: Self.nonce)
        XCTAssertEqual(sealed.count, 2 + SealedEnvelope.overhead)
        XCTAssertEqual(hexString(sealed), Golden.sealedRequest)
        let keys = ClusterKeySet(primary: key)
        XCTAssertEqual(try SealedEnvelope.open(sealed, keys: keys, context: requestContext()), Array("hi".utf8))
        XCTAssertEqual(hexString(SealedEnvelope.associatedData(requestContext(), fingerprint: key.fingerprint)), Golden.requestAD)
    }

    func testRandomNoncesMakeEachSealDifferent() throws {
        let a = SealedEnvelope.seal(Array("same".utf8), key: key, context: requestContext())
        let b = SealedEnvelope.seal(Array("same".utf8), key: key, context: requestContext())
        XCTAssertNotEqual(a, b)
        let keys = ClusterKeySet(primary: key)
        XCTAssertEqual(try SealedEnvelope.open(a, keys: keys, context: requestContext()), Array("same".utf8))
        XCTAssertEqual(try SealedEnvelope.open(b, keys: keys, context: requestContext()), Array("same".utf8))
    }

    func testEmptyPayloadSealsAndOpens() throws {
        let sealed = SealedEnvelope.seal([UInt8](), key: key, context: requestContext())
        XCTAssertEqual(sealed.count, SealedEnvelope.overhead)
        XCTAssertEqual(try SealedEnvelope.open(sealed, keys: ClusterKeySet(primary: key), context: requestContext()), [])
    }

    func testWrongKeyIsUnknownAndAcceptedKeyOpens() throws {
        let sealed = SealedEnvelope.seal(Array("hi".utf8), key: key, context: requestContext())
        XCTAssertThrowsError(try SealedEnvelope.open(sealed, keys: ClusterKeySet(primary: otherKey), context: requestContext())) {
            XCTAssertEqual(($0 as? CryptoError)?.code, .unknownClusterKey)
        }
        // During rotation the old key is still accepted.
        let rotated = ClusterKeySet(primary: otherKey, accepted: [key])
        XCTAssertEqual(try SealedEnvelope.open(sealed, keys: rotated, context: requestContext()), Array("hi".utf8))
    }

    func testAForgedFingerprintDoesNotOpen() throws {
        // A relay with another key that writes our fingerprint into its header still fails the tag.
        var sealed = SealedEnvelope.seal(Array("hi".utf8), key: otherKey, context: requestContext())
        sealed.replaceSubrange(1..<9, with: key.fingerprint.bytes)
        assertAuthenticationFails(sealed, context: requestContext())
    }

    func testTamperingAnyByteFails() throws {
        let sealed = SealedEnvelope.seal(Array("hello".utf8), key: key, context: requestContext())
        for index in 9..<sealed.count { // the fingerprint bytes (1..<9) give unknownClusterKey instead
            var tampered = sealed
            tampered[index] ^= 0x01
            assertAuthenticationFails(tampered, context: requestContext(), "byte \(index)")
        }
    }

    func testReplayIntoAnotherRequestClusterKindDirectionOrChunkFails() throws {
        let sealed = SealedEnvelope.seal(Array("hi".utf8), key: key, context: requestContext(id: 7))
        assertAuthenticationFails(sealed, context: requestContext(id: 8), "another request")
        var context = requestContext()
        context.name = ProtectedName(kind: .cluster, name: Array("payroll".utf8))!
        assertAuthenticationFails(sealed, context: context, "another cluster")
        context = requestContext(); context.kind = .reply
        assertAuthenticationFails(sealed, context: context, "another kind")
        context = requestContext(); context.direction = .towardOrigin
        assertAuthenticationFails(sealed, context: context, "another direction")
        context = requestContext(); context.origin = Self.otherNode
        assertAuthenticationFails(sealed, context: context, "another requesting relay")

        var chunk = SealContext(kind: .tunnel, direction: .towardServer, name: Self.billing, origin: Self.node, identity: 3,
                                sequence: 0)
        let first = SealedEnvelope.seal(Array("c0".utf8), key: key, context: chunk)
        chunk.sequence = 1
        assertAuthenticationFails(first, context: chunk, "chunk 0 replayed as chunk 1")
    }

    func testTruncationAndOtherVersionsAreMalformed() throws {
        let sealed = SealedEnvelope.seal(Array("hi".utf8), key: key, context: requestContext())
        for length in 0..<SealedEnvelope.overhead {
            XCTAssertThrowsError(try SealedEnvelope.open(Array(sealed.prefix(length)), keys: ClusterKeySet(primary: key),
                                                         context: requestContext())) {
                XCTAssertEqual(($0 as? CryptoError)?.code, .malformedSealedPayload, "length \(length)")
            }
        }
        // Cut inside the ciphertext: the header parses, the tag fails.
        assertAuthenticationFails(Array(sealed.dropLast()), context: requestContext())
        var other = sealed
        other[0] = 3
        XCTAssertThrowsError(try SealedEnvelope.open(other, keys: ClusterKeySet(primary: key), context: requestContext())) {
            XCTAssertEqual(($0 as? CryptoError)?.code, .malformedSealedPayload)
        }
        // Version 2 is the AES-256-GCM suite: suite-1 bytes under its header do not open.
        other[0] = 2
        if AESGCM.isAvailable { assertAuthenticationFails(other, context: requestContext(), "suite 1 relabelled as suite 2") }
    }

    func testHeaderCarriesFingerprintAndSequence() throws {
        var context = requestContext()
        context.kind = .event
        context.sequence = 0x0102_0304
        let sealed = SealedEnvelope.seal(Array("e".utf8), key: key, context: context)
        let header = try sealed.withUnsafeBytes { try SealedEnvelope.header($0) }
        XCTAssertEqual(header.fingerprint, key.fingerprint)
        XCTAssertEqual(header.sequence, 0x0102_0304)
    }

    private func assertAuthenticationFails(_ sealed: [UInt8], context: SealContext, _ message: String = "",
                                           file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SealedEnvelope.open(sealed, keys: ClusterKeySet(primary: key), context: context),
                             message, file: file, line: line) {
            XCTAssertEqual(($0 as? CryptoError)?.code, .authenticationFailed, message, file: file, line: line)
        }
    }

    enum Golden {
        /// Key 00 01 … 1f.
        static let fingerprint = "8a53bfb751454b37"
        /// Cluster "billing", node 0102…0f10, record version 42.
        static let proof = "2fede76918a3b6b38d7fdf8dd69a9dde"
        /// "hi" as request 7 of cluster "billing" from node 0102…0f10, nonce 40 41 … 57.
        static let sealedRequest = "01" + "8a53bfb751454b37" + "0000000000000000" + "404142434445464748494a4b4c4d4e4f5051525354555657"
            + "5580" + "ed9376273566b87377ec85d7dbdc8c8f"
        static let requestAD = "706c657875732d7365616c2d7631" + "01" + "00" + "0102030405060708090a0b0c0d0e0f10"
            + "0000000000000007" + "0000000000000000" + "8a53bfb751454b37" + "01" + "0007" + "62696c6c696e67"
    }
}

/// Nonces from the pool: all distinct across refills, and they seal and open like random ones.
final class NoncePoolTests: XCTestCase {
    func testPooledNoncesAreDistinctAcrossRefillsAndSeal() throws {
        var pool = NoncePool()
        var seen = Set<[UInt8]>()
        for _ in 0..<(3 * NoncePool.capacity + 7) {
            var nonce = [UInt8](repeating: 0, count: 24)
            nonce.withUnsafeMutableBufferPointer { pool.next(into: $0.baseAddress!) }
            XCTAssertTrue(seen.insert(nonce).inserted)
        }
        let key = try ClusterKey(bytes: ClusterKeyTests.keyBytes)
        let context = SealContext(kind: .event, direction: .towardServer, name: ClusterKeyTests.billing,
                                  origin: ClusterKeyTests.node, identity: 0, sequence: 3)
        let plaintext = Array("pooled".utf8)
        let sealed = plaintext.withUnsafeBytes { input in
            [UInt8](unsafeUninitializedCapacity: input.count + SealedEnvelope.overhead) { buffer, count in
                count = SealedEnvelope.seal(input, key: key, context: context, nonces: &pool, into: UnsafeMutableRawBufferPointer(buffer))
            }
        }
        XCTAssertEqual(try SealedEnvelope.open(sealed, keys: ClusterKeySet(primary: key), context: context), plaintext)
    }
}
