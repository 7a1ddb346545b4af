import NIOCore
import PlexusTestSupport
import NIOTestUtils
import PlexusWire
import XCTest

/// The decoders accept input split at any byte.
final class SplitInputTests: XCTestCase {
    static let clientPackets: [ClientPacket] = [
        .initiate(version: text("v1.0-draft2"), cluster: text("echo")),
        .broadcast(cluster: text("echo"), message: text("hello")),
        .request(id: 1, cluster: text("echo"), payload: ByteBuffer(repeating: 7, count: 300), timeoutMilliseconds: 1000),
        .reply(id: 0, outcome: .success(ByteBuffer())),
        .reply(id: 2, outcome: .fault(text("oops"))),
        .subscribe(topic: text("t")),
        .unsubscribe(topic: text("t")),
        .publish(topic: text("t"), event: text("event")),
        .tunnelInit(id: 0, cluster: text("echo"), timeoutMilliseconds: 1000),
        .tunnelConfirm(buildID: 3, tunnelID: 4),
        .tunnelAllow(id: 4, allowance: 67_108_864),
        .tunnelTransfer(id: 4, sizeOrContinuation: 130, chunk: ByteBuffer(repeating: 1, count: 130)),
        .tunnelTransfer(id: 4, sizeOrContinuation: 0, chunk: text("x")),
        .tunnelClose(id: 4),
        .close,
    ]

    static let relayPackets: [RelayPacket] = [
        .accept(version: text("v1.0-draft2")),
        .deny(reason: text("no")),
        .close(reason: ByteBuffer()),
        .broadcast(message: text("hello")),
        .request(id: 0, payload: ByteBuffer(repeating: 9, count: 200), timeoutMilliseconds: 1),
        .reply(id: 1, result: .timedOut),
        .reply(id: 1, result: .success(text("hi"))),
        .reply(id: 1, result: .fault(text("oops"))),
        .publish(topic: text("t"), event: text("e")),
        .tunnelOffer(buildID: 0, chunkLimit: 65536),
        .tunnelResult(id: 0, chunkLimit: nil),
        .tunnelResult(id: 1, chunkLimit: 65536),
        .tunnelAllow(id: 0, allowance: 4_194_304),
        .tunnelTransfer(id: 1, sizeOrContinuation: 2, chunk: text("hi")),
        .tunnelClose(id: 1, reason: text("gone")),
    ]

    func testClientDecoderWithNIOVerifier() throws {
        let pairs = Self.clientPackets.map { packet -> (ByteBuffer, [ClientPacket]) in
            var buffer = ByteBuffer()
            buffer.writeClientPacket(packet)
            return (buffer, [packet])
        }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { ClientPacketDecoder() }
    }

    func testRelayDecoderWithNIOVerifier() throws {
        let pairs = Self.relayPackets.map { packet -> (ByteBuffer, [RelayPacket]) in
            var buffer = ByteBuffer()
            buffer.writeRelayPacket(packet)
            return (buffer, [packet])
        }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { RelayPacketDecoder() }
    }

    /// Concatenates every packet into one stream, cuts it at every byte into two pieces, and
    /// decodes piece by piece as a socket would deliver them.
    func testClientStreamSplitAtEveryByte() throws {
        var stream = ByteBuffer()
        for packet in Self.clientPackets { stream.writeClientPacket(packet) }
        for cut in 0...stream.readableBytes {
            var pending = ByteBuffer()
            var decoded: [ClientPacket] = []
            for piece in [stream.getSlice(at: 0, length: cut)!, stream.getSlice(at: cut, length: stream.readableBytes - cut)!] {
                var piece = piece
                pending.writeBuffer(&piece)
                while let packet = try ClientPacket.decode(from: &pending) { decoded.append(packet) }
            }
            XCTAssertEqual(decoded, Self.clientPackets, "cut at \(cut)")
            XCTAssertEqual(pending.readableBytes, 0)
        }
    }

    func testRelayStreamFedOneByteAtATime() throws {
        var stream = ByteBuffer()
        for packet in Self.relayPackets { stream.writeRelayPacket(packet) }
        var pending = ByteBuffer()
        var decoded: [RelayPacket] = []
        while var byte = stream.readSlice(length: 1) {
            pending.writeBuffer(&byte)
            while let packet = try RelayPacket.decode(from: &pending) { decoded.append(packet) }
        }
        XCTAssertEqual(decoded, Self.relayPackets)
    }
}
