import Foundation
import PlexusCrypto
import PlexusTestSupport
import XCTest

final class KeyFileTests: XCTestCase {
    var directory: String = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "plexus-keyfile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func write(_ text: String, mode: Int, name: String = "key") throws -> String {
        let path = directory + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode])
        return path
    }

    private func mode(of path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
    }

    func testGeneratedKeyRoundTripsWithMode0600() throws {
        let path = directory + "/network.key"
        let key = try NetworkKeyFile.generate(at: path)
        XCTAssertEqual(try mode(of: path), 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text.count, 45, "44 base64 characters and a newline")
        XCTAssertTrue(text.hasSuffix("\n"))
        XCTAssertTrue(try NetworkKey.load(from: path).constantTimeEquals(key))
    }

    func testRefusesToOverwriteWithoutForce() throws {
        let path = directory + "/network.key"
        let first = try NetworkKeyFile.generate(at: path)
        XCTAssertThrowsError(try NetworkKeyFile.generate(at: path)) { error in
            XCTAssertEqual((error as? CryptoError)?.code, .fileExists)
            XCTAssertTrue("\(error)".contains("--force"), "\(error)")
        }
        XCTAssertTrue(try NetworkKey.load(from: path).constantTimeEquals(first), "original key untouched")
        let second = try NetworkKeyFile.generate(at: path, force: true)
        XCTAssertTrue(try NetworkKey.load(from: path).constantTimeEquals(second))
        XCTAssertEqual(try mode(of: path), 0o600)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [])
    }

    func testRefusesGroupOrOtherReadableFile() throws {
        let path = try write(String(repeating: "A", count: 43) + "=\n", mode: 0o644)
        XCTAssertThrowsError(try NetworkKey.load(from: path)) { error in
            XCTAssertEqual((error as? CryptoError)?.code, .insecureFilePermissions)
            XCTAssertTrue("\(error)".contains("chmod 600 \(path)"), "\(error)")
            XCTAssertTrue("\(error)".contains("644"), "\(error)")
        }
        let groupPath = try write(String(repeating: "A", count: 43) + "=\n", mode: 0o640, name: "group")
        XCTAssertThrowsError(try NetworkKey.load(from: groupPath)) { error in
            XCTAssertEqual((error as? CryptoError)?.code, .insecureFilePermissions)
        }
    }

    func testRefusesWrongLength() throws {
        // 24 bytes of base64 = 18 bytes.
        let path = try write("AAAAAAAAAAAAAAAAAAAAAAAA\n", mode: 0o600)
        XCTAssertThrowsError(try NetworkKey.load(from: path)) { error in
            XCTAssertEqual((error as? CryptoError)?.code, .invalidKeyLength)
            XCTAssertTrue("\(error)".contains("expected 32 bytes, got 18"), "\(error)")
            XCTAssertTrue("\(error)".contains("plexus keygen"), "\(error)")
        }
    }

    func testRefusesBadEncoding() throws {
        let path = try write("this is not base64 at all!!!!!!!!!!!!!!!!!!!\n", mode: 0o600)
        XCTAssertThrowsError(try NetworkKey.load(from: path)) { error in
            XCTAssertEqual((error as? CryptoError)?.code, .invalidEncoding)
            XCTAssertTrue("\(error)".contains("not valid base64"), "\(error)")
        }
        let empty = try write("\n", mode: 0o600, name: "empty")
        XCTAssertThrowsError(try NetworkKey.load(from: empty)) { error in
            XCTAssertEqual((error as? CryptoError)?.code, .invalidEncoding)
            XCTAssertTrue("\(error)".contains("empty"), "\(error)")
        }
    }

    func testMissingFileSaysHowToCreateIt() throws {
        XCTAssertThrowsError(try NetworkKey.load(from: directory + "/nope")) { error in
            XCTAssertEqual((error as? CryptoError)?.code, .fileNotFound)
            XCTAssertTrue("\(error)".contains("plexus keygen --out"), "\(error)")
        }
    }

    func testStaticIdentityIsStableAcrossRestarts() throws {
        let dataDirectory = directory + "/data"
        let first = try StaticIdentity.loadOrCreate(dataDirectory: dataDirectory)
        let second = try StaticIdentity.loadOrCreate(dataDirectory: dataDirectory)
        XCTAssertEqual(first.nodeID, second.nodeID)
        XCTAssertEqual(first.keyPair.publicKey, second.keyPair.publicKey)
        XCTAssertEqual(try mode(of: dataDirectory + "/" + StaticIdentity.fileName), 0o600)
        XCTAssertEqual(first.nodeID.description.count, 32)
        XCTAssertNotEqual(StaticIdentity.ephemeral().nodeID, first.nodeID)
    }

    func testNodeIDIsBlake2bPrefixOfStaticPublicKey() throws {
        // Golden value: BLAKE2b-512 of the cacophony responder static public key, first 16 bytes.
        let privateKey = try X25519PrivateKey(bytes: hexBytes("4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893"))
        let publicKey = privateKey.publicKey
        let expected = Array(Blake2b.hash(publicKey.bytes).prefix(16))
        XCTAssertEqual(NodeID(staticPublicKey: publicKey).bytes, expected)
    }

    func testKeyringLoadsPrimaryAndAcceptedKeysWithoutDuplicates() throws {
        let primaryPath = directory + "/new.key", oldPath = directory + "/old.key"
        let primary = try NetworkKeyFile.generate(at: primaryPath)
        let old = try NetworkKeyFile.generate(at: oldPath)
        let keyring = try Keyring.load(primaryPath: primaryPath, acceptedPaths: [oldPath, primaryPath, oldPath])
        XCTAssertTrue(keyring.primary.constantTimeEquals(primary))
        XCTAssertEqual(keyring.acceptedKeys.count, 2)
        XCTAssertTrue(keyring.secondary[0].constantTimeEquals(old))
    }

    func testKeysAreRedactedInDescriptions() throws {
        let key = NetworkKey.generate()
        XCTAssertTrue("\(key)".hasPrefix("NetworkKey(fingerprint: "))
        XCTAssertEqual("\(X25519PrivateKey.generate())", "X25519PrivateKey(<redacted>)")
    }
}
