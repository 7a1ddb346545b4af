import NIOCore
import PlexusWire
import XCTest

/// `InboundCumulation`, the decoding the relay's and the binding's handlers do themselves: every
/// packet comes out once, in order, whatever the split of the reads; errors surface; nothing is
/// held once a read is fully decoded.
final class InboundCumulationTests: XCTestCase {
    private func stream<Packet>(_ packets: [Packet], _ encode: (inout ByteBuffer, Packet) -> Void) -> ByteBuffer {
        var buffer = ByteBuffer()
        for packet in packets { encode(&buffer, packet) }
        return buffer
    }

    /// Feeds `bytes` in reads of `size` bytes (the last one shorter) and collects the packets.
    private func decodeClient(_ bytes: ByteBuffer, readSize size: Int) throws -> [ClientPacket] {
        var input = InboundCumulation()
        var packets: [ClientPacket] = []
        var rest = bytes
        while let read = rest.readSlice(length: min(size, rest.readableBytes)), read.readableBytes > 0 {
            input.append(read)
            while let packet = try input.nextClientPacket(limits: .default) { packets.append(packet) }
            input.readComplete()
        }
        XCTAssertEqual(input.bufferedBytes, 0)
        return packets
    }

    func testClientStreamInEveryReadSize() throws {
        let packets = SplitInputTests.clientPackets
        let bytes = stream(packets) { $0.writeClientPacket($1) }
        for size in [1, 2, 3, 7, 64, 255, bytes.readableBytes] {
            XCTAssertEqual(try decodeClient(bytes, readSize: size), packets, "reads of \(size) bytes")
        }
    }

    func testRelayStreamOneByteAtATimeAndWhole() throws {
        let packets = SplitInputTests.relayPackets
        let bytes = stream(packets) { $0.writeRelayPacket($1) }
        for size in [1, 5, bytes.readableBytes] {
            var input = InboundCumulation()
            var decoded: [RelayPacket] = []
            var rest = bytes
            while let read = rest.readSlice(length: min(size, rest.readableBytes)), read.readableBytes > 0 {
                input.append(read)
                while let packet = try input.nextRelayPacket(limits: .default) { decoded.append(packet) }
                input.readComplete()
            }
            XCTAssertEqual(decoded, packets, "reads of \(size) bytes")
        }
    }

    func testUnfinishedPacketIsHeldAndCounted() throws {
        var bytes = ByteBuffer()
        bytes.writeClientPacket(.publish(topic: ByteBuffer(string: "t"), event: ByteBuffer(repeating: 1, count: 1000)))
        var input = InboundCumulation()
        input.append(bytes.getSlice(at: bytes.readerIndex, length: 600)!)
        XCTAssertNil(try input.nextClientPacket(limits: .default))
        input.readComplete()
        XCTAssertEqual(input.bufferedBytes, 600)
        input.append(bytes.getSlice(at: bytes.readerIndex + 600, length: bytes.readableBytes - 600)!)
        guard case .publish(_, let event)? = try input.nextClientPacket(limits: .default) else {
            return XCTFail("no PUBLISH")
        }
        XCTAssertEqual(event.readableBytes, 1000)
        input.readComplete()
        XCTAssertEqual(input.bufferedBytes, 0)
    }

    func testLargePacketInManyReadsBehindSmallOnes() throws {
        let packets: [ClientPacket] = [
            .subscribe(topic: ByteBuffer(string: "t")),
            .publish(topic: ByteBuffer(string: "t"), event: ByteBuffer(repeating: 3, count: 1 << 20)),
            .publish(topic: ByteBuffer(string: "t"), event: ByteBuffer(string: "after")),
        ]
        let bytes = stream(packets) { $0.writeClientPacket($1) }
        XCTAssertEqual(try decodeClient(bytes, readSize: 4096), packets)
    }

    func testMalformedPacketThrowsAfterTheGoodOnes() throws {
        var bytes = ByteBuffer()
        bytes.writeClientPacket(.subscribe(topic: ByteBuffer(string: "t")))
        bytes.writeInteger(UInt8(0x7f))  // no such opcode
        var input = InboundCumulation()
        input.append(bytes)
        XCTAssertEqual(try input.nextClientPacket(limits: .default), .subscribe(topic: ByteBuffer(string: "t")))
        XCTAssertThrowsError(try input.nextClientPacket(limits: .default)) { error in
            XCTAssertEqual((error as? WireError)?.code, .unknownOpcode)
        }
        input.discard()
        XCTAssertEqual(input.bufferedBytes, 0)
    }

    /// Only the packet that straddles two reads is copied: the packets after it are slices of the
    /// second read's own storage (no copy of the whole read behind an unfinished packet).
    func testPacketsAfterAStraddlingOneAreSlicesOfTheirRead() throws {
        let packets: [ClientPacket] = (0..<40).map {
            .publish(topic: ByteBuffer(string: "t"), event: ByteBuffer(repeating: UInt8($0), count: 1000))
        }
        let bytes = stream(packets) { $0.writeClientPacket($1) }
        let first = bytes.getSlice(at: bytes.readerIndex, length: 1500)!
        let second = ByteBuffer(bytes: Array(bytes.readableBytesView.dropFirst(1500)))  // its own storage
        var input = InboundCumulation()
        input.append(first)
        XCTAssertNotNil(try input.nextClientPacket(limits: .default))
        XCTAssertNil(try input.nextClientPacket(limits: .default))
        input.readComplete()
        input.append(second)
        var decoded: [ClientPacket] = []
        while let packet = try input.nextClientPacket(limits: .default) { decoded.append(packet) }
        input.readComplete()
        XCTAssertEqual(decoded, Array(packets.dropFirst()))
        XCTAssertEqual(input.bufferedBytes, 0)
        let range = second.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress!)..<UInt(bitPattern: $0.baseAddress!) + UInt($0.count) }
        for packet in decoded.dropFirst() {
            guard case .publish(_, let event) = packet else { return XCTFail("not a PUBLISH") }
            let address = event.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress!) }
            XCTAssertTrue(range.contains(address), "an event after the straddling packet was copied")
        }
    }

    /// A straddling packet larger than the first prefix tried, and one that needs all of the read.
    func testStraddlingPacketsOfEverySizeJoin() throws {
        for size in [10, 2000, 5000, 70_000] {
            let packets: [ClientPacket] = [
                .publish(topic: ByteBuffer(string: "a"), event: ByteBuffer(repeating: 1, count: size)),
                .subscribe(topic: ByteBuffer(string: "b")),
                .publish(topic: ByteBuffer(string: "c"), event: ByteBuffer(repeating: 2, count: size)),
            ]
            let bytes = stream(packets) { $0.writeClientPacket($1) }
            for cut in [1, 5, size / 2, bytes.readableBytes - 1] {
                var input = InboundCumulation()
                var decoded: [ClientPacket] = []
                for read in [bytes.getSlice(at: 0, length: cut)!, bytes.getSlice(at: cut, length: bytes.readableBytes - cut)!] {
                    input.append(read)
                    while let packet = try input.nextClientPacket(limits: .default) { decoded.append(packet) }
                    input.readComplete()
                }
                XCTAssertEqual(decoded, packets, "event of \(size) bytes, cut at \(cut)")
                XCTAssertEqual(input.bufferedBytes, 0)
            }
        }
    }

    /// The owner may stop taking packets in the middle of a read (a connection closed by a
    /// packet): what is left stays buffered in order.
    func testStoppingBeforeTheJoinKeepsEverything() throws {
        let packets: [ClientPacket] = (0..<3).map { .publish(topic: ByteBuffer(string: "t"), event: ByteBuffer(repeating: UInt8($0), count: 100)) }
        let bytes = stream(packets) { $0.writeClientPacket($1) }
        var input = InboundCumulation()
        input.append(bytes.getSlice(at: 0, length: 50)!)
        XCTAssertNil(try input.nextClientPacket(limits: .default))
        input.readComplete()
        input.append(bytes.getSlice(at: 50, length: bytes.readableBytes - 50)!)
        input.readComplete()  // no packet taken
        XCTAssertEqual(input.bufferedBytes, bytes.readableBytes)
        var decoded: [ClientPacket] = []
        while let packet = try input.nextClientPacket(limits: .default) { decoded.append(packet) }
        XCTAssertEqual(decoded, packets)
    }
}
