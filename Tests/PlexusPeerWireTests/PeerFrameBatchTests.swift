import NIOCore
import PlexusPeerWire
import PlexusTestSupport
import XCTest

/// `Docs/relay-to-relay.md` §1: several frames in one session frame, each after its varint length.
final class PeerFrameBatchTests: XCTestCase {
    func testGoldenBatchOfTwoFrames() throws {
        var batch = ByteBuffer()
        PeerFrameBatch.append(.publish(topic: text("news"), event: text("e1")), to: &batch)
        PeerFrameBatch.append(.departure(.draining), to: &batch)
        XCTAssertEqual(batch.hexString, ByteBuffer(hex: "09 04 04 6e 65 77 73 02 65 31 02 0b 00").hexString)
        var frames: [PeerFrame] = []
        try PeerFrameBatch.forEachFrame(in: batch, decoder: PeerFrameDecoder()) { frames.append($0) }
        XCTAssertEqual(frames, [.publish(topic: text("news"), event: text("e1")), .departure(.draining)])
        XCTAssertEqual(PeerFrameBatch.encodedSize(of: .departure(.draining)), 3)
    }

    func testEncodedSizeMatchesAppendForLongFrames() {
        let frame = PeerFrame.publish(topic: text("t"), event: ByteBuffer(repeating: 1, count: 200))
        var batch = ByteBuffer()
        PeerFrameBatch.append(frame, to: &batch)
        XCTAssertEqual(batch.readableBytes, PeerFrameBatch.encodedSize(of: frame))
    }

    func testMalformedBatchesAreRejected() {
        let cases: [(String, String, PeerFrameError)] = [
            ("empty", "", .emptyFrame),
            ("length beyond the batch", "05 0b 00", .truncated(field: "batched frame")),
            ("unterminated length", "80", .truncated(field: "batched frame length")),
            ("length over the limit", "ff ff ff ff 7f", .lengthOverLimit(field: "batched frame length", length: 34_359_738_367,
                                                                         limit: PeerFrameBatch.maxFrameBytes)),
            ("bad inner frame", "01 ff", .unknownFrameType(0xff)),
        ]
        for (name, hex, expected) in cases {
            XCTAssertThrowsError(try PeerFrameBatch.forEachFrame(in: ByteBuffer(hex: hex), decoder: PeerFrameDecoder()) { _ in },
                                 name) { error in
                XCTAssertEqual(error as? PeerFrameError, expected, name)
            }
        }
    }
}
