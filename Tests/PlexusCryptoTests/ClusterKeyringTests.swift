import Foundation
import PlexusCrypto
import XCTest

/// Loading cluster keys from `NAME=FILE` options: the key-file rules and clear errors.
final class ClusterKeyringTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "plexus-clusterkeys-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func keyFile(_ name: String) throws -> String {
        let path = directory + "/" + name
        try NetworkKeyFile.generate(at: path)
        return path
    }

    private func option(_ text: String, _ kind: ProtectedNameKind = .cluster,
                        _ role: ClusterKeyOption.Role = .primary) throws -> ClusterKeyOption {
        try ClusterKeyOption.parse(text, kind: kind, role: role,
                                   flag: kind == .topic ? "--topic-key" : role == .primary ? "--cluster-key" : "--accept-cluster-key")
    }

    func testLoadsPrimaryAcceptedAndTopicKeys() throws {
        let old = try keyFile("old.key"), new = try keyFile("new.key"), news = try keyFile("news.key")
        let keyring = try ClusterKeyring.load([
            try option("billing=\(new)"), try option("billing=\(old)", .cluster, .accepted), try option("news=\(news)", .topic),
        ])
        let billing = try XCTUnwrap(keyring.keys(for: ProtectedName(kind: .cluster, name: Array("billing".utf8))!))
        XCTAssertEqual(billing.accepted.count, 1)
        XCTAssertEqual(billing.primary.fingerprint, try ClusterKey.load(from: new).fingerprint)
        XCTAssertNotNil(billing.key(for: try ClusterKey.load(from: old).fingerprint))
        XCTAssertNotNil(keyring.keys(for: ProtectedName(kind: .topic, name: Array("news".utf8))!))
        XCTAssertNil(keyring.keys(for: ProtectedName(kind: .cluster, name: Array("news".utf8))!), "a topic key is not a cluster key")
        XCTAssertEqual(keyring.fingerprints.map(\.name.kind), [.cluster, .topic])
    }

    func testMalformedOptionsNameTheFlag() {
        XCTAssertThrowsError(try option("billing")) { XCTAssertTrue("\($0)".contains("--cluster-key billing: expected NAME=FILE")) }
        XCTAssertThrowsError(try option("=x")) { XCTAssertTrue("\($0)".contains("1 to 255 bytes")) }
        XCTAssertThrowsError(try option("billing=")) { XCTAssertTrue("\($0)".contains("no key file")) }
    }

    func testKeyFileRulesApply() throws {
        let path = directory + "/loose.key"
        try NetworkKeyFile.generate(at: path)
        chmod(path, 0o644)
        XCTAssertThrowsError(try ClusterKeyring.load([try option("billing=\(path)")])) {
            XCTAssertEqual(($0 as? CryptoError)?.code, .insecureFilePermissions)
            XCTAssertTrue("\($0)".contains("chmod 600 \(path)"))
        }
        XCTAssertThrowsError(try ClusterKeyring.load([try option("billing=\(directory)/missing.key")])) {
            XCTAssertTrue("\($0)".contains("plexus keygen --out \(self.directory)/missing.key"))
        }
    }

    func testAcceptedWithoutPrimaryAndTwoPrimariesAreRefused() throws {
        let a = try keyFile("a.key"), b = try keyFile("b.key")
        XCTAssertThrowsError(try ClusterKeyring.load([try option("billing=\(a)", .cluster, .accepted)])) {
            XCTAssertTrue("\($0)".contains("has no primary key; add --cluster-key billing=FILE"), "\($0)")
        }
        XCTAssertThrowsError(try ClusterKeyring.load([try option("billing=\(a)"), try option("billing=\(b)")])) {
            XCTAssertTrue("\($0)".contains("two primary keys"), "\($0)")
        }
    }
}
