import PlexusTestSupport
import XCTest
@testable import PlexusMembership

/// Gateway routes on the wire (`Docs/federation.md`, "Gateway routes in the directory"): a record
/// without routes keeps its old encoding; one with routes travels as update kind 7 (record, claims
/// section, routes section) / push-pull flag 0x04.
final class GatewayRouteCodecTests: XCTestCase {
    static let route = GatewayRoute(kind: .cluster, overlay: "eu", name: "c")
    static var routedRecord: DirectoryRecord {
        var record = Golden.record
        record.gatewayRoutes = [route]
        return record
    }
    static let routesHex = "0001 01 02 6575 01 63"
    static let recordHex = ProtectedClaimCodecTests.recordHex

    func testGoldenGatewayRecordUpdate() throws {
        let packet = MembershipPacket(sender: Golden.sender, message: .gossip(updates: [.record(Self.routedRecord)]))
        let bytes = hexBytes("01 05 0102030405060708090a0b0c0d0e0f10 01 07 " + Self.recordHex + " 0000 " + Self.routesHex)
        XCTAssertEqual(hexDigits(MembershipEncoder.encode(packet)), hexDigits(bytes))
        XCTAssertEqual(MembershipEncoder.encodedSize(of: packet), bytes.count)
        XCTAssertEqual(try MembershipDecoder.decode(bytes), packet)
    }

    func testGatewayRecordWithClaims() throws {
        var record = Self.routedRecord
        record.claims = [ProtectedClaimCodecTests.claim]
        let packet = MembershipPacket(sender: Golden.sender, message: .gossip(updates: [.record(record)]))
        let bytes = hexBytes("01 05 0102030405060708090a0b0c0d0e0f10 01 07 " + Self.recordHex + " "
                             + ProtectedClaimCodecTests.claimsHex + " " + Self.routesHex)
        XCTAssertEqual(hexDigits(MembershipEncoder.encode(packet)), hexDigits(bytes))
        XCTAssertEqual(MembershipEncoder.encodedSize(of: packet), bytes.count)
        XCTAssertEqual(try MembershipDecoder.decode(bytes), packet)
    }

    func testGoldenPushPullWithRoutes() throws {
        let packet = MembershipPacket(sender: Golden.sender, message: .pushPull(isReply: true, members: [],
                                                                                records: [Self.routedRecord, Golden.record]))
        let bytes = hexBytes("01 06 0102030405060708090a0b0c0d0e0f10 05 00000000 00000002 "
                             + Self.recordHex + " " + Self.routesHex + " " + Self.recordHex + " 0000")
        XCTAssertEqual(hexDigits(MembershipEncoder.encode(packet)), hexDigits(bytes))
        XCTAssertEqual(MembershipEncoder.encodedSize(of: packet), bytes.count)
        XCTAssertEqual(try MembershipDecoder.decode(bytes), packet)
    }

    func testMalformedRoutesAreRejected() {
        let prefix = "01 05 0102030405060708090a0b0c0d0e0f10 01 07 " + Self.recordHex + " 0000 "
        func rejects(_ routes: String, _ expected: MembershipDecodingError, line: UInt = #line) {
            XCTAssertThrowsError(try MembershipDecoder.decode(hexBytes(prefix + routes)), line: line) {
                XCTAssertEqual($0 as? MembershipDecodingError, expected, line: line)
            }
        }
        rejects("0081", .lengthOutOfRange(field: "gateway routes", length: 129, limit: GatewayRoute.maxPerRecord))
        rejects("0001 03 02 6575 01 63", .valueOutOfRange(field: "gateway route kind"))
        rejects("0001 01 00 01 63 00", .lengthOutOfRange(field: "gateway route overlay", length: 0, limit: GatewayRoute.maxOverlayBytes))
        rejects("0001 01 41" + String(repeating: "61", count: 65) + " 01 63",
                .lengthOutOfRange(field: "gateway route overlay", length: 65, limit: GatewayRoute.maxOverlayBytes))
        let routes = hexBytes(Self.routesHex)
        for length in 0..<routes.count {
            XCTAssertThrowsError(try MembershipDecoder.decode(hexBytes(prefix) + routes.prefix(length)), "prefix \(length)")
        }
    }

    func testOwnRecordRoutesAreSortedAndDeduplicated() {
        var membership = Membership(settings: unitTestSettings, localID: Golden.sender,
                                    localAddress: NodeAddress(host: "a", port: 1), initialIncarnation: 1, randomSeed: 1, now: 0)
        let topic = GatewayRoute(kind: .topic, overlay: "eu", name: "news")
        _ = membership.updateOwnRecord([.setGatewayRoutes([topic, Self.route, topic])], now: 0)
        XCTAssertEqual(membership.localRecord.gatewayRoutes, [Self.route, topic])
        _ = membership.updateOwnRecord([.setGatewayRoutes([])], now: 1)
        XCTAssertEqual(membership.localRecord.gatewayRoutes, [])
    }
}
