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

    /// Sealing from one buffer into another gives the bytes of sealing in place; opening into
    /// another buffer returns the plaintext, and zeroes it when the tag does not verify.
    func testOutOfPlaceSealAndOpenMatchInPlace() throws {
        try XCTSkipUnless(AESGCM.isAvailable, "this CPU has no AES-NI/PCLMUL")
        let k = try key(9)
        let plaintext = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let inPlace = AESGCM.seal(key: k, nonce: AESGCM.noiseNonce(3), associatedData: [4, 5], plaintext: plaintext)
        var outOfPlace = [UInt8](repeating: 0, count: plaintext.count + AESGCM.tagLength)
        let written = plaintext.withUnsafeBytes { plain in
            [UInt8]([4, 5]).withUnsafeBytes { ad in
                outOfPlace.withUnsafeMutableBytes {
                    AESGCM.seal(key: k, nonce: AESGCM.noiseNonce(3), associatedData: ad, plaintext: plain, into: $0)
                }
            }
        }
        XCTAssertEqual(written, inPlace.count)
        XCTAssertEqual(outOfPlace, inPlace)
        func openOutOfPlace(_ sealed: [UInt8]) -> (Int?, [UInt8]) {
            var out = [UInt8](repeating: 0xAA, count: sealed.count - AESGCM.tagLength)
            let count = sealed.withUnsafeBytes { cipher in
                [UInt8]([4, 5]).withUnsafeBytes { ad in
                    out.withUnsafeMutableBytes {
                        try? AESGCM.open(key: k, nonce: AESGCM.noiseNonce(3), associatedData: ad, ciphertext: cipher, into: $0)
                    }
                }
            }
            return (count, out)
        }
        XCTAssertEqual(openOutOfPlace(inPlace).0, plaintext.count)
        XCTAssertEqual(openOutOfPlace(inPlace).1, plaintext)
        var tampered = inPlace
        tampered[10] ^= 1
        let failed = openOutOfPlace(tampered)
        XCTAssertNil(failed.0)
        XCTAssertEqual(failed.1, [UInt8](repeating: 0, count: plaintext.count), "no plaintext left behind")
    }

    /// The Noise AESGCM nonce is 4 zero bytes then the counter big-endian (ChaChaPoly's is little-endian).
    func testNoiseNonceLayout() {
        var nonce = AESGCM.noiseNonce(0x0102_0304_0506_0708)
        let bytes = withUnsafeBytes(of: &nonce) { Array($0) }
        XCTAssertEqual(bytes, [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8])
    }
}
