import PlexusCrypto
import PlexusTestSupport
import PlexusVocabulary
import XCTest

/// Suite 2 of sealed payloads (AES-256-GCM under a per-sender epoch key, counter nonces) and the
/// suite claims that advertise it, with golden bytes (`Docs/cluster-keys.md` shows the same).
final class FastSealTests: XCTestCase {
    static let node = ClusterKeyTests.node
    static let billing = ClusterKeyTests.billing
    static let epoch = SealEpoch(high: 0x4041_4243_4445_4647, low: 0x4849_4a4b_4c4d_4e4f)

    var key: ClusterKey { try! ClusterKey(bytes: ClusterKeyTests.keyBytes) }
    var otherKey: ClusterKey { try! ClusterKey(bytes: ClusterKeyTests.otherKeyBytes) }
    var keys: ClusterKeySet { ClusterKeySet(primary: key) }

    override func setUpWithError() throws {
        try XCTSkipUnless(AESGCM.isAvailable, "this CPU has no AES-NI/PCLMUL: suite 2 is never used here")
    }

    func requestContext(id: UInt64 = 7) -> SealContext {
        SealContext(kind: .request, direction: .towardServer, name: Self.billing, origin: Self.node, identity: id)
    }

    func sealFast(_ text: String, context: SealContext, state: inout FastSealState) -> [UInt8] {
        SealedEnvelope.sealFast(Array(text.utf8), key: key, context: context, fast: &state)!
    }

    func testSealIsGoldenAndOpens() throws {
        var sender = FastSealState(epoch: Self.epoch)
        let sealed = sealFast("hi", context: requestContext(), state: &sender)
        XCTAssertEqual(hexString(sealed), Golden.sealedHi)
        XCTAssertEqual(sealed.count, 2 + SealedEnvelope.overhead, "the same 57 bytes as suite 1")
        XCTAssertEqual(hexString(SealedEnvelope.associatedData(requestContext(), fingerprint: key.fingerprint, suite: .aes256gcm)),
                       Golden.associatedData)
        var receiver = FastSealState()
        let opened = try sealed.withUnsafeBytes { bytes in
            try [UInt8](unsafeUninitializedCapacity: SealedEnvelope.openBufferCount(sealedCount: bytes.count)) { out, count in
                count = try SealedEnvelope.open(bytes, keys: keys, context: requestContext(), fast: &receiver,
                                                into: UnsafeMutableRawBufferPointer(out))
            }
        }
        XCTAssertEqual(String(decoding: opened, as: UTF8.self), "hi")
        XCTAssertEqual(try SealedEnvelope.open(sealed, keys: keys, context: requestContext()), Array("hi".utf8),
                       "the stateless convenience opens suite 2 too")
        XCTAssertEqual(try SealedEnvelope.header(sealed.withUnsafeBytes { UnsafeRawBufferPointer($0) }).suite, .aes256gcm)
    }

    func testCounterNumbersEveryPayloadAndEpochsDiffer() throws {
        var sender = FastSealState(epoch: Self.epoch)
        let first = sealFast("same", context: requestContext(), state: &sender)
        let second = sealFast("same", context: requestContext(), state: &sender)
        XCTAssertEqual(sender.counter, 2)
        XCTAssertEqual(Array(first[33..<41]), [0, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(second[33..<41]), [0, 0, 0, 0, 0, 0, 0, 1])
        XCTAssertNotEqual(Array(first[41...]), Array(second[41...]), "a new nonce, a new ciphertext")
        XCTAssertNotEqual(FastSealState().epoch, FastSealState().epoch, "every state draws its own epoch")
        var receiver = FastSealState()
        for sealed in [first, second, first] {
            XCTAssertEqual(try open(sealed, context: requestContext(), state: &receiver), Array("same".utf8))
        }
    }

    func testASenderMovesToAFreshEpochAfterItsLimit() throws {
        var sender = FastSealState(epoch: Self.epoch, epochLimit: 2)
        let sealed = (0..<5).map { sealFast("m\($0)", context: requestContext(), state: &sender) }
        let epochs = sealed.map { Array($0[17..<33]) }
        let counters = sealed.map { Array($0[33..<41]).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        XCTAssertEqual(counters, [0, 1, 0, 1, 0], "the counter starts again under each new epoch")
        XCTAssertEqual(epochs[0], epochs[1])
        XCTAssertNotEqual(epochs[1], epochs[2], "a fresh random epoch after 2 payloads")
        XCTAssertEqual(epochs[2], epochs[3])
        XCTAssertNotEqual(epochs[3], epochs[4])
        XCTAssertNotEqual(epochs[0], epochs[4])
        var receiver = FastSealState()
        for (index, payload) in sealed.enumerated() {
            XCTAssertEqual(try open(payload, context: requestContext(), state: &receiver), Array("m\(index)".utf8))
        }
    }

    func testBindingIsAsStrongAsSuite1() {
        var sender = FastSealState()
        let sealed = sealFast("secret", context: requestContext(), state: &sender)
        var others: [(SealContext, String)] = []
        var context = requestContext(id: 8); others.append((context, "another request"))
        context = requestContext(); context.kind = .reply; others.append((context, "another kind"))
        context = requestContext(); context.direction = .towardOrigin; others.append((context, "another direction"))
        context = requestContext(); context.origin = ClusterKeyTests.otherNode; others.append((context, "another relay"))
        context = requestContext(); context.name = ProtectedName(kind: .cluster, name: Array("billinG".utf8))!
        others.append((context, "another cluster"))
        context = requestContext(); context.name = ProtectedName(kind: .topic, name: Array("billing".utf8))!
        others.append((context, "a topic of the same name"))
        for (other, label) in others { assertDoesNotOpen(sealed, context: other, label) }
        // A chunk sealed with sequence 0 does not open as chunk 1.
        var chunk = SealContext(kind: .tunnel, direction: .towardServer, name: Self.billing, origin: Self.node, identity: 3)
        let chunk0 = sealFast("c0", context: chunk, state: &sender)
        chunk.sequence = 1
        assertDoesNotOpen(chunk0, context: chunk, "chunk 0 replayed as chunk 1")
        // Every byte tampered, and every truncation.
        for index in sealed.indices {
            var tampered = sealed
            tampered[index] ^= 0x01
            assertDoesNotOpen(tampered, context: requestContext(), "byte \(index)")
        }
        for length in 0..<sealed.count { assertDoesNotOpen(Array(sealed.prefix(length)), context: requestContext(), "length \(length)") }
        // Another key: refused by fingerprint; a forged fingerprint does not open either.
        XCTAssertThrowsError(try SealedEnvelope.open(sealed, keys: ClusterKeySet(primary: otherKey), context: requestContext())) {
            XCTAssertEqual(($0 as? CryptoError)?.code, .unknownClusterKey)
        }
        var forger = FastSealState()
        let forged = SealedEnvelope.sealFast(Array("x".utf8), key: otherKey, context: requestContext(), fast: &forger)!
        var relabelled = forged
        relabelled.replaceSubrange(1..<9, with: key.fingerprint.bytes)
        assertDoesNotOpen(relabelled, context: requestContext(), "another key under this key's fingerprint")
        // An accepted key opens.
        XCTAssertEqual(try SealedEnvelope.open(forged, keys: ClusterKeySet(primary: key, accepted: [otherKey]), context: requestContext()),
                       Array("x".utf8))
    }

    /// The opened epoch keys are cached per relay for every name; a name whose keys do not hold
    /// the header's key is refused by fingerprint even when that epoch's key is cached.
    func testACachedEpochKeyOpensOnlyForANameThatHoldsItsKey() throws {
        var sender = FastSealState()
        let sealed = sealFast("x", context: requestContext(), state: &sender)
        var receiver = FastSealState()
        XCTAssertEqual(try open(sealed, context: requestContext(), state: &receiver), Array("x".utf8))
        var other = requestContext()
        other.name = ProtectedName(kind: .cluster, name: Array("payroll".utf8))!
        XCTAssertThrowsError(try sealed.withUnsafeBytes { bytes in
            try [UInt8](unsafeUninitializedCapacity: SealedEnvelope.openBufferCount(sealedCount: bytes.count)) { out, count in
                count = 0
                count = try SealedEnvelope.open(bytes, keys: ClusterKeySet(primary: otherKey), context: other, fast: &receiver,
                                                into: UnsafeMutableRawBufferPointer(out))
            }
        }) { XCTAssertEqual(($0 as? CryptoError)?.code, .unknownClusterKey) }
        XCTAssertTrue(keys.holds(key.fingerprint))
        XCTAssertFalse(keys.holds(otherKey.fingerprint))
    }

    func testARelayWithoutTheSuiteRefusesItClearly() throws {
        var sender = FastSealState()
        let sealed = sealFast("x", context: requestContext(), state: &sender)
        var disabled = FastSealState(enabled: false)
        XCTAssertNil(SealedEnvelope.sealFast(Array("x".utf8), key: key, context: requestContext(), fast: &disabled))
        XCTAssertThrowsError(try open(sealed, context: requestContext(), state: &disabled)) {
            XCTAssertEqual(($0 as? CryptoError)?.code, .malformedSealedPayload)
        }
        // Suite 1 still opens with any state.
        let plain = SealedEnvelope.seal(Array("y".utf8), key: key, context: requestContext())
        XCTAssertEqual(try open(plain, context: requestContext(), state: &disabled), Array("y".utf8))
    }

    func testSuiteClaimIsGoldenAndBoundLikeTheClaim() {
        let proof = ClaimProof.make(key: key, name: Self.billing, node: Self.node, version: 42, suites: ClaimProof.fastSuites)
        XCTAssertEqual(ClaimProof.fastSuites, 0x06)
        XCTAssertEqual(hexString(proof), Golden.suiteProof)
        XCTAssertTrue(ClaimProof.verify(proof, key: key, name: Self.billing, node: Self.node, version: 42, suites: 0x06))
        XCTAssertFalse(ClaimProof.verify(proof, key: key, name: Self.billing, node: Self.node, version: 42), "not a plain claim")
        XCTAssertFalse(ClaimProof.verify(proof, key: key, name: Self.billing, node: Self.node, version: 42, suites: 0x02))
        XCTAssertFalse(ClaimProof.verify(proof, key: key, name: Self.billing, node: ClusterKeyTests.otherNode, version: 42,
                                         suites: 0x06))
        XCTAssertFalse(ClaimProof.verify(proof, key: key, name: Self.billing, node: Self.node, version: 43, suites: 0x06))
        XCTAssertFalse(ClaimProof.verify(proof, key: otherKey, name: Self.billing, node: Self.node, version: 42, suites: 0x06))
        let plain = ClaimProof.make(key: key, name: Self.billing, node: Self.node, version: 42)
        XCTAssertEqual(hexString(plain), ClusterKeyTests.Golden.proof, "plain claims unchanged")
        XCTAssertFalse(ClaimProof.verify(plain, key: key, name: Self.billing, node: Self.node, version: 42, suites: 0x06))
    }

    // MARK: Helpers

    func open(_ sealed: [UInt8], context: SealContext, state: inout FastSealState) throws -> [UInt8] {
        try sealed.withUnsafeBytes { bytes in
            var failure: (any Error)?
            let out = [UInt8](unsafeUninitializedCapacity: max(1, SealedEnvelope.openBufferCount(sealedCount: bytes.count))) { out, count in
                do {
                    count = try SealedEnvelope.open(bytes, keys: keys, context: context, fast: &state,
                                                    into: UnsafeMutableRawBufferPointer(out))
                } catch {
                    failure = error
                    count = 0
                }
            }
            if let failure { throw failure }
            return out
        }
    }

    private func assertDoesNotOpen(_ sealed: [UInt8], context: SealContext, _ message: String,
                                   file: StaticString = #filePath, line: UInt = #line) {
        var state = FastSealState()
        XCTAssertThrowsError(try open(sealed, context: context, state: &state), message, file: file, line: line)
    }

    enum Golden {
        /// "hi" as request 7 of cluster billing from node 0102…0f10, key 00 01 … 1f, epoch 40 41 … 4f, counter 0.
        static let sealedHi = "028a53bfb751454b370000000000000000404142434445464748494a4b4c4d4e4f00000000000000007b230de6ace6112fbb3322f0fdc8ddca9a9d"
        static let associatedData = "706c657875732d7365616c2d763201000102030405060708090a0b0c0d0e0f10000000000000000700000000000000008a53bfb751454b3701000762696c6c696e67"
        /// Suite claim (suites 0x06) of cluster billing, node 0102…0f10, version 42.
        static let suiteProof = "5271cad8173ad549e8e78f73453bfa84"
    }
}
