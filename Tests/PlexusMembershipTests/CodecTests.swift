import PlexusTestSupport
import XCTest
@testable import PlexusMembership

/// Golden packets; the same bytes are listed in Docs/membership-protocol.md.
enum Golden {
    static let sender = NodeID(bytes: Array(1...16))!
    static let target = NodeID(bytes: Array(repeating: 0x11, count: 16))!
    static let subject = NodeID(bytes: Array(repeating: 0x22, count: 16))!

    static let ping = MembershipPacket(sender: sender, message: .ping(sequence: 0x0102_0304, target: target, updates: [
        .alive(subject, incarnation: 5, address: NodeAddress(host: "h", port: 7946))]))
    static let pingBytes = hexBytes("""
        01 01 0102030405060708090a0b0c0d0e0f10 01020304 11111111111111111111111111111111
        01 01 22222222222222222222222222222222 0000000000000005 01 68 1f0a
        """)

    static let nack = MembershipPacket(sender: sender, message: .nack(sequence: 9))
    static let nackBytes = hexBytes("01 04 0102030405060708090a0b0c0d0e0f10 00000009")

    static let record = DirectoryRecord(node: subject, version: 2, addresses: [NodeAddress(host: "a", port: 1)], zone: "z",
                                        clusters: [ClusterCapacity(cluster: "c", capacity: 3)], topics: ["t"],
                                        load: LoadSummary(inFlightRequests: 4, utilizationPermille: 500))
    static let gossip = MembershipPacket(sender: sender, message: .gossip(updates: [
        .record(record), .suspect(target, incarnation: 1, accuser: subject), .left(target, incarnation: 2)]))
    static let gossipBytes = hexBytes("""
        01 05 0102030405060708090a0b0c0d0e0f10 03
        05 22222222222222222222222222222222 0000000000000002 01 01 61 0001 01 7a 0001 01 63 00000003 0001 01 74 00000004 01f4
        02 11111111111111111111111111111111 0000000000000001 22222222222222222222222222222222
        04 11111111111111111111111111111111 0000000000000002
        """)

    static let pushPull = MembershipPacket(sender: sender, message: .pushPull(isReply: true, members: [
        MemberState(id: target, address: NodeAddress(host: "a", port: 1), incarnation: 9, status: .dead)], records: []))
    static let pushPullBytes = hexBytes("""
        01 06 0102030405060708090a0b0c0d0e0f10 01 00000001
        11111111111111111111111111111111 01 61 0001 0000000000000009 02 00000000
        """)

    static let all: [(MembershipPacket, [UInt8])] = [(ping, pingBytes), (nack, nackBytes), (gossip, gossipBytes), (pushPull, pushPullBytes)]
}

final class CodecTests: XCTestCase {
    func testGoldenBytes() throws {
        for (packet, bytes) in Golden.all {
            XCTAssertEqual(hexDigits(MembershipEncoder.encode(packet)), hexDigits(bytes))
            XCTAssertEqual(MembershipEncoder.encodedSize(of: packet), bytes.count)
            XCTAssertEqual(try MembershipDecoder.decode(bytes), packet)
        }
    }

    func testEveryMessageTypeRoundTrips() throws {
        let address = NodeAddress(host: "relay-7.example", port: 65_535)
        let packets: [MembershipPacket] = [
            MembershipPacket(sender: Golden.sender, message: .ack(sequence: .max, updates: [])),
            MembershipPacket(sender: Golden.sender, message: .pingRequest(sequence: 1, target: Golden.target, targetAddress: address,
                                                                         updates: [.dead(Golden.target, incarnation: .max, accuser: Golden.sender)])),
            MembershipPacket(sender: Golden.sender, message: .pushPull(isReply: false, members: [
                MemberState(id: Golden.subject, address: address, incarnation: 3, status: .left),
                MemberState(id: Golden.target, address: address, incarnation: 4, status: .suspect)], records: [Golden.record])),
        ] + Golden.all.map(\.0)
        for packet in packets {
            let bytes = MembershipEncoder.encode(packet)
            XCTAssertEqual(bytes.count, MembershipEncoder.encodedSize(of: packet))
            XCTAssertEqual(try MembershipDecoder.decode(bytes), packet)
        }
    }

    func testTruncationAtEveryByteIsRejected() {
        for (_, bytes) in Golden.all {
            for length in 0..<bytes.count {
                XCTAssertThrowsError(try MembershipDecoder.decode(Array(bytes.prefix(length))), "length \(length)") { error in
                    XCTAssertEqual((error as? MembershipDecodingError)?.code, .truncated, "length \(length): \(error)")
                }
            }
        }
    }

    private func assertRejects(_ bytes: [UInt8], _ expected: MembershipDecodingError, line: UInt = #line) {
        XCTAssertThrowsError(try MembershipDecoder.decode(bytes), line: line) { error in
            XCTAssertEqual(error as? MembershipDecodingError, expected, line: line)
        }
    }

    func testMalformedInputIsRejectedWithAClearError() {
        let header = hexBytes("01 05 0102030405060708090a0b0c0d0e0f10")
        // Unknown message type, version, update kind; trailing bytes.
        assertRejects(hexBytes("01 07") + Golden.sender.bytes, .unknownMessageType(7))
        assertRejects(hexBytes("02 01") + Golden.sender.bytes, .unsupportedVersion(2))
        assertRejects(header + hexBytes("01 09") + Array(repeating: 0, count: 24), .unknownUpdateKind(9))
        assertRejects(Golden.nackBytes + [0], .trailingBytes(1))
        // A count far beyond the bytes present is rejected before anything is allocated.
        assertRejects(header + hexBytes("ff 01"), .truncated(needed: 255 * 25, available: 1))
        let pushPullHeader = hexBytes("01 06 0102030405060708090a0b0c0d0e0f10 00")
        assertRejects(pushPullHeader + hexBytes("ffffffff"), .lengthOutOfRange(field: "members", length: 0xFFFF_FFFF, limit: WireLimits.maxPushPullMembers))
        assertRejects(pushPullHeader + hexBytes("00000000 00010001"), .lengthOutOfRange(field: "records", length: 65_537, limit: WireLimits.maxPushPullRecords))
        assertRejects(hexBytes("01 06 0102030405060708090a0b0c0d0e0f10 08"), .invalidFlags(8)) // 0x02 claims, 0x04 gateway routes
        // Member status byte out of range.
        var badStatus = Golden.pushPullBytes
        badStatus[badStatus.count - 5] = 4
        assertRejects(badStatus, .unknownStatus(4))
        // Host: empty, invalid UTF-8.
        let alivePrefix = header + hexBytes("01 01 22222222222222222222222222222222 0000000000000005")
        assertRejects(alivePrefix + hexBytes("00 1f0a"), .lengthOutOfRange(field: "host", length: 0, limit: WireLimits.maxHostLength))
        assertRejects(alivePrefix + hexBytes("01 ff 1f0a"), .invalidUTF8(field: "host"))
        // Record fields beyond their limits.
        let recordPrefix = header + hexBytes("01 05 22222222222222222222222222222222 0000000000000002")
        assertRejects(recordPrefix + hexBytes("09") + Array(repeating: 0, count: 64), .lengthOutOfRange(field: "addresses", length: 9, limit: 8))
        assertRejects(recordPrefix + hexBytes("00 41") + Array(repeating: 0x7a, count: 65) + hexBytes("0000 0000 00000000 0000"),
                      .lengthOutOfRange(field: "zone", length: 65, limit: 64))
        assertRejects(recordPrefix + hexBytes("00 00 0401") + Array(repeating: 0, count: 8_000),
                      .lengthOutOfRange(field: "clusters", length: 1_025, limit: 1_024))
        assertRejects(recordPrefix + hexBytes("00 00 0000 1001") + Array(repeating: 0, count: 9_000),
                      .lengthOutOfRange(field: "topics", length: 4_097, limit: 4_096))
        assertRejects(recordPrefix + hexBytes("00 00 0001 00 00000001 0000 00000000 0000"),
                      .lengthOutOfRange(field: "cluster", length: 0, limit: 255))
        assertRejects(recordPrefix + hexBytes("00 00 0000 0000 00000000 03e9"), .valueOutOfRange(field: "utilization"))
        // Oversized input as a whole.
        assertRejects(Array(repeating: 0, count: WireLimits.maxPacketBytes + 1), .tooLarge(WireLimits.maxPacketBytes + 1))
    }

    func testRandomGarbageNeverCrashes() {
        var random = SeededGenerator(seed: 1)
        for _ in 0..<2_000 {
            let length = Int(random.next() % 200)
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if bytes.count > 2 { bytes[0] = 1; bytes[1] = UInt8(1 + random.next() % 6) }
            _ = try? MembershipDecoder.decode(bytes)
        }
        // Mutations of valid packets: decode or throw, never crash.
        for (_, golden) in Golden.all {
            for index in golden.indices {
                var mutated = golden
                mutated[index] ^= 0xFF
                _ = try? MembershipDecoder.decode(mutated)
            }
        }
    }
}
