import PlexusCrypto
import PlexusTestSupport
import XCTest

final class PrimitiveTests: XCTestCase {
    func testChaChaPolyRoundTripAndTamperDetection() throws {
        let key = try CipherKey(bytes: [UInt8](repeating: 7, count: 32))
        let sealed = ChaChaPoly.seal(key: key, counter: 5, associatedData: [1, 2], plaintext: Array("hello".utf8))
        XCTAssertEqual(sealed.count, 5 + 16)
        XCTAssertEqual(try ChaChaPoly.open(key: key, counter: 5, associatedData: [1, 2], ciphertext: sealed), Array("hello".utf8))
        XCTAssertThrowsError(try ChaChaPoly.open(key: key, counter: 6, associatedData: [1, 2], ciphertext: sealed))
        var flipped = sealed
        flipped[0] ^= 1
        XCTAssertThrowsError(try ChaChaPoly.open(key: key, counter: 5, associatedData: [1, 2], ciphertext: flipped))
    }

    func testConstantTimeEquality() throws {
        XCTAssertTrue(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        XCTAssertFalse(ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        XCTAssertFalse(ConstantTime.equals([1, 2, 3], [1, 2]))
        let a = try NetworkKey(bytes: [UInt8](repeating: 1, count: 32))
        XCTAssertTrue(a.constantTimeEquals(try NetworkKey(bytes: [UInt8](repeating: 1, count: 32))))
        XCTAssertFalse(a.constantTimeEquals(NetworkKey.generate()))
    }

    func testKeyLengthsAreChecked() {
        XCTAssertThrowsError(try NetworkKey(bytes: [UInt8](repeating: 0, count: 31)))
        XCTAssertThrowsError(try X25519PublicKey(bytes: [UInt8](repeating: 0, count: 33)))
        XCTAssertThrowsError(try CipherKey(bytes: []))
    }

    func testLowOrderPublicKeyIsRejected() throws {
        let zero = try X25519PublicKey(bytes: [UInt8](repeating: 0, count: 32))
        XCTAssertThrowsError(try X25519PrivateKey.generate().sharedSecret(with: zero))
    }

    /// HMAC-BLAKE2b against an independent computation (Python hmac + hashlib.blake2b).
    func testHMACBlake2bGolden() {
        let key = [UInt8](repeating: 0x0b, count: 64)
        let mac = key.withUnsafeBytes { k in Array("Hi There".utf8).withUnsafeBytes { d in Blake2b.hmac(key: k, data: [d]) } }
        let bytes = mac.withUnsafeBytes { Array($0) }
        XCTAssertEqual(hexString(bytes), Self.hmacGolden)
    }

    static let hmacGolden = "5167ed316aa2ef02e37eca45fec219dcac2a89846d883276f840e299b3806f0ce201c9ccb42259e7ded3265eb5bda88c0c43e993fa3288468615d4335906c7ee"
}
