import PlexusTestSupport
import XCTest
@testable import PlexusMembership

/// Directory claims on the wire (`Docs/cluster-keys.md`, "Directory claims"): a record without
/// claims keeps its old encoding, one with claims travels as update kind 6 / push-pull flag 0x02.
final class ProtectedClaimCodecTests: XCTestCase {
    static let claim = ProtectedClaim(kind: .cluster, name: "c", fingerprint: 0x8a53_bfb7_5145_4b37,
                                      proof: Array(0xa0..<0xb0))
    static var claimedRecord: DirectoryRecord {
        var record = Golden.record
        record.claims = [claim]
        return record
    }
    static let claimsHex = "0001 01 01 63 8a53bfb751454b37 a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
    static let recordHex = "22222222222222222222222222222222 0000000000000002 01 01 61 0001 01 7a 0001 01 63 00000003 0001 01 74 00000004 01f4"

    func testGoldenClaimedRecordUpdate() throws {
        let packet = MembershipPacket(sender: Golden.sender, message: .gossip(updates: [.record(Self.claimedRecord)]))
        let bytes = hexBytes("01 05 0102030405060708090a0b0c0d0e0f10 01 06 " + Self.recordHex + " " + Self.claimsHex)
        XCTAssertEqual(hexDigits(MembershipEncoder.encode(packet)), hexDigits(bytes))
        XCTAssertEqual(MembershipEncoder.encodedSize(of: packet), bytes.count)
        XCTAssertEqual(try MembershipDecoder.decode(bytes), packet)
    }

    func testRecordWithoutClaimsKeepsTheOldEncoding() throws {
        XCTAssertEqual(hexDigits(MembershipEncoder.encode(Golden.gossip)), hexDigits(Golden.gossipBytes))
    }

    func testGoldenPushPullWithClaims() throws {
        let packet = MembershipPacket(sender: Golden.sender, message: .pushPull(isReply: true, members: [],
                                                                                records: [Self.claimedRecord, Golden.record]))
        let bytes = hexBytes("01 06 0102030405060708090a0b0c0d0e0f10 03 00000000 00000002 "
                             + Self.recordHex + " " + Self.claimsHex + " " + Self.recordHex + " 0000")
        XCTAssertEqual(hexDigits(MembershipEncoder.encode(packet)), hexDigits(bytes))
        XCTAssertEqual(MembershipEncoder.encodedSize(of: packet), bytes.count)
        XCTAssertEqual(try MembershipDecoder.decode(bytes), packet)
    }

    func testMalformedClaimsAreRejected() {
        let prefix = "01 05 0102030405060708090a0b0c0d0e0f10 01 06 " + Self.recordHex + " "
        func rejects(_ claims: String, _ expected: MembershipDecodingError, line: UInt = #line) {
            XCTAssertThrowsError(try MembershipDecoder.decode(hexBytes(prefix + claims)), line: line) {
                XCTAssertEqual($0 as? MembershipDecodingError, expected, line: line)
            }
        }
        rejects("0101", .lengthOutOfRange(field: "claims", length: 257, limit: ProtectedClaim.maxPerRecord))
        rejects("0001 03 01 63 8a53bfb751454b37 a0a1a2a3a4a5a6a7a8a9aaabacadaeaf", .valueOutOfRange(field: "claim kind"))
        rejects("0001 01 00 8a53bfb751454b37 a0a1a2a3a4a5a6a7a8a9aaabacadaeaf00",
                .lengthOutOfRange(field: "claim name", length: 0, limit: WireLimits.maxNameLength))
        // Every proper prefix of the claims section is truncated.
        let claims = hexBytes(Self.claimsHex)
        for length in 0..<claims.count {
            XCTAssertThrowsError(try MembershipDecoder.decode(hexBytes(prefix) + claims.prefix(length)), "prefix \(length)")
        }
        XCTAssertThrowsError(try MembershipDecoder.decode(hexBytes("01 06 0102030405060708090a0b0c0d0e0f10 08 00000000 00000000"))) {
            XCTAssertEqual($0 as? MembershipDecodingError, .invalidFlags(8)) // 0x04 is gateway routes (Docs/federation.md)
        }
    }

    func testOwnRecordIsReSignedAtEveryVersion() {
        var membership = Membership(settings: unitTestSettings, localID: Golden.sender,
                                    localAddress: NodeAddress(host: "a", port: 1), initialIncarnation: 1, randomSeed: 1, now: 0)
        let signing = ClaimSigning { node, version in
            [ProtectedClaim(kind: .topic, name: "t", fingerprint: version, proof: Array(repeating: UInt8(truncatingIfNeeded: node.low), count: 16))]
        }
        _ = membership.updateOwnRecord([.setClaimSigning(signing)], now: 0)
        XCTAssertEqual(membership.localRecord.claims.map(\.fingerprint), [membership.localRecord.version])
        _ = membership.updateOwnRecord([.subscribeTopic("x")], now: 1)
        XCTAssertEqual(membership.localRecord.claims.map(\.fingerprint), [membership.localRecord.version], "re-signed for the new version")
        _ = membership.updateOwnRecord([.setClaimSigning(nil)], now: 2)
        XCTAssertEqual(membership.localRecord.claims, [])
    }
}
