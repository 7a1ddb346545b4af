import NIOCore
import PlexusTestSupport
import PlexusWire
import XCTest

/// Golden bytes: every worked example of spec §15, in both directions.
final class WorkedExampleTests: XCTestCase {
    private func assertClient(_ packet: ClientPacket, encodesTo hex: String, file: StaticString = #filePath, line: UInt = #line) throws {
        var encoded = ByteBuffer()
        encoded.writeClientPacket(packet)
        XCTAssertEqual(encoded, ByteBuffer(hex: hex), "encoding: \(encoded.hexString)", file: file, line: line)
        var input = ByteBuffer(hex: hex)
        XCTAssertEqual(try ClientPacket.decode(from: &input), packet, file: file, line: line)
        XCTAssertEqual(input.readableBytes, 0, "decoder must consume exactly one packet", file: file, line: line)
    }

    private func assertRelay(_ packet: RelayPacket, encodesTo hex: String, file: StaticString = #filePath, line: UInt = #line) throws {
        var encoded = ByteBuffer()
        encoded.writeRelayPacket(packet)
        XCTAssertEqual(encoded, ByteBuffer(hex: hex), "encoding: \(encoded.hexString)", file: file, line: line)
        var input = ByteBuffer(hex: hex)
        XCTAssertEqual(try RelayPacket.decode(from: &input), packet, file: file, line: line)
        XCTAssertEqual(input.readableBytes, 0, "decoder must consume exactly one packet", file: file, line: line)
    }

    func testServiceInit() throws {
        try assertClient(.initiate(version: text("v1.0-draft2"), cluster: text("echo")), encodesTo: """
            00 11 69 72 69 73 2d 63 6c 69 65 6e 74 2d 6d 61 67 69 63
            0b 76 31 2e 30 2d 64 72 61 66 74 32 04 65 63 68 6f
            """)
    }

    func testAccept() throws {
        try assertRelay(.accept(version: text("v1.0-draft2")), encodesTo: """
            00 10 69 72 69 73 2d 72 65 6c 61 79 2d 6d 61 67 69 63 0b 76 31 2e 30 2d 64 72 61 66 74 32
            """)
    }

    func testPlainClientInit() throws {
        try assertClient(.initiate(version: text("v1.0-draft2"), cluster: ByteBuffer()), encodesTo: """
            00 11 69 72 69 73 2d 63 6c 69 65 6e 74 2d 6d 61 67 69 63 0b 76 31 2e 30 2d 64 72 61 66 74 32 00
            """)
    }

    func testRequestReplyExchange() throws {
        try assertClient(.request(id: 1, cluster: text("echo"), payload: text("hi"), timeoutMilliseconds: 1000),
                         encodesTo: "04 01 04 65 63 68 6f 02 68 69 e8 07")
        try assertRelay(.request(id: 0, payload: text("hi"), timeoutMilliseconds: 1000), encodesTo: "04 00 02 68 69 e8 07")
        try assertClient(.reply(id: 0, outcome: .success(text("hi"))), encodesTo: "05 00 01 02 68 69")
        try assertRelay(.reply(id: 1, result: .success(text("hi"))), encodesTo: "05 01 00 01 02 68 69")
        try assertRelay(.reply(id: 1, result: .timedOut), encodesTo: "05 01 01")
        try assertRelay(.reply(id: 1, result: .fault(text("oops"))), encodesTo: "05 01 00 00 04 6f 6f 70 73")
        try assertClient(.reply(id: 0, outcome: .fault(text("oops"))), encodesTo: "05 00 00 04 6f 6f 70 73")
    }

    func testDeny() throws {
        let reason = WireConstants.unsupportedVersionReason(clientVersion: "v1.0-draft1")
        XCTAssertEqual(reason.utf8.count, 61)
        try assertRelay(.deny(reason: text(reason)), encodesTo: """
            01 10 69 72 69 73 2d 72 65 6c 61 79 2d 6d 61 67 69 63
            3d 55 6e 73 75 70 70 6f 72 74 65 64 20 70 72 6f 74 6f 63 6f 6c 2e 20 43 6c 69 65 6e 74 3a 20
            76 31 2e 30 2d 64 72 61 66 74 31 2e 20 49 72 69 73 3a 20 76 31 2e 30 2d 64 72 61 66 74 32 2e
            """)
    }

    func testTunnelExample() throws {
        try assertClient(.tunnelInit(id: 0, cluster: text("echo"), timeoutMilliseconds: 1000), encodesTo: "09 00 04 65 63 68 6f e8 07")
        try assertRelay(.tunnelOffer(buildID: 0, chunkLimit: 65536), encodesTo: "09 00 80 80 04")
        try assertClient(.tunnelConfirm(buildID: 0, tunnelID: 1), encodesTo: "0a 00 01")
        try assertClient(.tunnelAllow(id: 1, allowance: 67_108_864), encodesTo: "0b 01 80 80 80 20")
        try assertRelay(.tunnelAllow(id: 1, allowance: 4_194_304), encodesTo: "0b 01 80 80 80 02")
        try assertRelay(.tunnelResult(id: 0, chunkLimit: 65536), encodesTo: "0a 00 00 80 80 04")
        try assertRelay(.tunnelAllow(id: 0, allowance: 4_194_304), encodesTo: "0b 00 80 80 80 02")
        try assertClient(.tunnelAllow(id: 0, allowance: 67_108_864), encodesTo: "0b 00 80 80 80 20")
        try assertClient(.tunnelTransfer(id: 0, sizeOrContinuation: 2, chunk: text("hi")), encodesTo: "0c 00 02 02 68 69")
        try assertRelay(.tunnelTransfer(id: 1, sizeOrContinuation: 2, chunk: text("hi")), encodesTo: "0c 01 02 02 68 69")
        try assertRelay(.tunnelAllow(id: 0, allowance: 2), encodesTo: "0b 00 02")
        try assertClient(.tunnelAllow(id: 1, allowance: 2), encodesTo: "0b 01 02")
        try assertClient(.tunnelClose(id: 0), encodesTo: "0d 00")
        try assertRelay(.tunnelClose(id: 0, reason: ByteBuffer()), encodesTo: "0d 00 00")
        try assertRelay(.tunnelClose(id: 1, reason: ByteBuffer()), encodesTo: "0d 01 00")
        try assertRelay(.tunnelResult(id: 0, chunkLimit: nil), encodesTo: "0a 00 01")
    }

    func testGracefulClose() throws {
        try assertClient(.close, encodesTo: "02")
        try assertRelay(.close(reason: ByteBuffer()), encodesTo: "02 00")
    }

    func testRemainingPacketKinds() throws {
        try assertClient(.broadcast(cluster: text("c"), message: text("m")), encodesTo: "03 01 63 01 6d")
        try assertRelay(.broadcast(message: text("m")), encodesTo: "03 01 6d")
        try assertClient(.subscribe(topic: text("t")), encodesTo: "06 01 74")
        try assertClient(.unsubscribe(topic: text("t")), encodesTo: "07 01 74")
        try assertClient(.publish(topic: text("t"), event: text("e")), encodesTo: "08 01 74 01 65")
        try assertRelay(.publish(topic: text("t"), event: text("e")), encodesTo: "08 01 74 01 65")
        try assertRelay(.close(reason: text("bye")), encodesTo: "02 03 62 79 65")
        try assertRelay(.reply(id: 300, result: .success(ByteBuffer())), encodesTo: "05 ac 02 00 01 00")
    }
}
