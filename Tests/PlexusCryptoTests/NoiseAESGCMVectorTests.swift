import PlexusCrypto
import PlexusNoise
import PlexusTestSupport
import XCTest

/// The published cacophony vectors for 25519/AESGCM/BLAKE2b (Vectors/README.md), byte for byte,
/// and the AESGCM CipherState's own rules (nonce layout, rekey, no cross-cipher acceptance).
final class NoiseAESGCMVectorTests: XCTestCase {
    static let file = "cacophony-25519-aesgcm-blake2b.json"

    override func setUpWithError() throws {
        try XCTSkipUnless(AESGCM.isAvailable, "this CPU has no AES-NI/PCLMUL: libsodium cannot run AES-256-GCM")
    }

    func testEveryVendoredVectorByteForByte() throws {
        let vectors = try NoiseVectorTests.loadVectors(Self.file)
        XCTAssertEqual(vectors.map(\.protocol_name), ["Noise_NN_25519_AESGCM_BLAKE2b", "Noise_X_25519_AESGCM_BLAKE2b",
                                                       "Noise_XX_25519_AESGCM_BLAKE2b", "Noise_XXpsk3_25519_AESGCM_BLAKE2b"])
        for vector in vectors {
            let name = String(vector.protocol_name.split(separator: "_")[1])
            try NoiseVectorTests.runVector(vector, pattern: HandshakePattern.named(name), cipher: .aesGCM, checkHandshakeHash: false)
        }
    }

    func testTheSameKeysUnderTheOtherCipherDoNotAuthenticate() throws {
        let key = try CipherKey(bytes: [UInt8](repeating: 7, count: 32))
        var aes = CipherState(key: key, cipher: .aesGCM)
        var chacha = CipherState(key: key, cipher: .chaChaPoly)
        let sealed = try aes.encrypt(associatedData: [1, 2], plaintext: Array("event".utf8))
        XCTAssertThrowsError(try chacha.decrypt(associatedData: [1, 2], ciphertext: sealed)) { error in
            XCTAssertEqual((error as? NoiseError)?.code, .decryptionFailed)
        }
        XCTAssertEqual(chacha.nonce, 0, "a failed decryption must not consume the nonce")
        var aesReceiver = CipherState(key: key, cipher: .aesGCM)
        XCTAssertEqual(try aesReceiver.decrypt(associatedData: [1, 2], ciphertext: sealed), Array("event".utf8))
    }

    func testRekeyFollowsTheSpecUnderAESGCM() throws {
        let key = try CipherKey(bytes: (0..<32).map { UInt8($0) })
        var state = CipherState(key: key, cipher: .aesGCM)
        state.rekey()
        // REKEY(k) = first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros[32]) with the AESGCM nonce.
        let expected = Array(AESGCM.seal(key: try AESGCMKey(key), nonce: AESGCM.noiseNonce(.max), associatedData: [],
                                         plaintext: [UInt8](repeating: 0, count: 32)).prefix(32))
        let rekeyed = try XCTUnwrap(state.key)
        XCTAssertEqual(rekeyed.secret.withUnsafeBytes { Array($0) }, expected)
        // Both ends rekeyed the same way still talk.
        var receiver = CipherState(key: key, cipher: .aesGCM)
        receiver.rekey()
        let sealed = try state.encrypt(associatedData: [], plaintext: [9, 9, 9])
        XCTAssertEqual(try receiver.decrypt(associatedData: [], ciphertext: sealed), [9, 9, 9])
    }

    func testOutOfPlaceDecryptionMatchesInPlace() throws {
        let key = try CipherKey(bytes: [UInt8](repeating: 3, count: 32))
        var sender = CipherState(key: key, cipher: .aesGCM)
        var receiver = CipherState(key: key, cipher: .aesGCM)
        let payload = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        let sealed = try sender.encrypt(associatedData: [], plaintext: payload)
        var plaintext = [UInt8](repeating: 0, count: payload.count)
        let length = try sealed.withUnsafeBytes { ciphertext in
            try plaintext.withUnsafeMutableBytes {
                try receiver.decryptOutOfPlace(associatedData: UnsafeRawBufferPointer(start: nil, count: 0), ciphertext: ciphertext, plaintext: $0)
            }
        }
        XCTAssertEqual(length, payload.count)
        XCTAssertEqual(plaintext, payload)
        XCTAssertEqual(receiver.nonce, 1)
    }

    func testHandshakeUnderDifferentCiphersFailsAtTheFirstTag() throws {
        let psk = try NetworkKey(bytes: [UInt8](repeating: 5, count: 32))
        var initiator = try HandshakeState(pattern: .XXpsk3, role: .initiator, staticKeyPair: .generate(),
                                           presharedKeys: [psk], cipher: .aesGCM)
        var responder = try HandshakeState(pattern: .XXpsk3, role: .responder, staticKeyPair: .generate(),
                                           presharedKeys: [psk], cipher: .chaChaPoly)
        let first = try initiator.writeMessage()
        XCTAssertThrowsError(try responder.readMessage(first)) { error in
            XCTAssertEqual((error as? NoiseError)?.code, .decryptionFailed)
        }
    }
}
