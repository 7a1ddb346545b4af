import PlexusCrypto
import PlexusTestSupport
import XCTest

final class AESGCMTests: XCTestCase {
    func key(_ byte: UInt8) throws -> AESGCMKey {
        try AESGCMKey(try CipherKey(bytes: [UInt8](repeating: byte, count: 32)))
    }

    /// McGrew–Viega GCM test case 14: 256-bit zero key, zero IV, one zero block.
    func testKnownAnswerFromTheGCMSpecification() throws {
        try XCTSkipUnless(AESGCM.isAvailable, "this CPU has no AES-NI/PCLMUL: libsodium offers no AES-256-GCM")
        let sealed = AESGCM.seal(key: try key(0), nonce: (0, 0, 0), associatedData: [], plaintext: [UInt8](repeating: 0, count: 16))
        XCTAssertEqual(hexString(sealed), "cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919")
    }

    func testRoundTripAndTamperDetection() throws {
        try XCTSkipUnless(AESGCM.isAvailable, "this CPU has no AES-NI/PCLMUL")
        let k = try key(7)
        let sealed = AESGCM.seal(key: k, nonce: AESGCM.noiseNonce(5), associatedData: [1, 2], plaintext: Array("hello".utf8))
        XCTAssertEqual(sealed.count, 5 + AESGCM.tagLength)
        XCTAssertEqual(try AESGCM.open(key: k, nonce: AESGCM.noiseNonce(5), associatedData: [1, 2], ciphertext: sealed), Array("hello".utf8))
        XCTAssertThrowsError(try AESGCM.open(key: k, nonce: AESGCM.noiseNonce(6), associatedData: [1, 2], ciphertext: sealed))
        XCTAssertThrowsError(try AESGCM.open(key: k, nonce: AESGCM.noiseNonce(5), associatedData: [1, 3], ciphertext: sealed))
        var flipped = sealed
        flipped[0] ^= 1
        XCTAssertThrowsError(try AESGCM.open(key: k, nonce: AESGCM.noiseNonce(5), associatedData: [1, 2], ciphertext: flipped))
        XCTAssertThrowsError(try AESGCM.open(key: try key(8), nonce: AESGCM.noiseNonce(5), associatedData: [1, 2], ciphertext: sealed))
    }

    /// The Noise AESGCM nonce is 4 zero bytes then the counter big-endian (ChaChaPoly's is little-endian).
    func testNoiseNonceLayout() {
        var nonce = AESGCM.noiseNonce(0x0102_0304_0506_0708)
        let bytes = withUnsafeBytes(of: &nonce) { Array($0) }
        XCTAssertEqual(bytes, [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8])
    }
}
