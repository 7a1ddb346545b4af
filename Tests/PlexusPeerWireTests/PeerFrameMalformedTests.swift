import NIOCore
import PlexusMembership
import PlexusPeerWire
import PlexusTestSupport
import XCTest

final class PeerFrameMalformedTests: XCTestCase {
    private let decoder = PeerFrameDecoder()

    private func assertRejects(_ hex: String, _ expected: PeerFrameError, decoder: PeerFrameDecoder? = nil,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try (decoder ?? self.decoder).decode(ByteBuffer(hex: hex)), file: file, line: line) { error in
            XCTAssertEqual(error as? PeerFrameError, expected, file: file, line: line)
        }
    }

    func testTruncationAtEveryByteIsRejected() {
        for example in goldenFrames {
            let bytes = Array(ByteBuffer(hex: example.hex).readableBytesView)
            for length in 0..<bytes.count {
                XCTAssertThrowsError(try decoder.decode(ByteBuffer(bytes: bytes[0..<length])),
                                     "\(example.name) cut at \(length)") { error in
                    guard let error = error as? PeerFrameError else { return XCTFail("wrong error type") }
                    if length == 0 {
                        XCTAssertEqual(error, .emptyFrame)
                    } else {
                        XCTAssertEqual(error.code, .truncated, "\(example.name) cut at \(length): \(error)")
                    }
                }
            }
        }
    }

    func testTruncationNamesTheField() {
        assertRejects("01 07 04 65 63", .truncated(field: "cluster"))
        assertRejects("01 07 04 65 63 68 6f dc", .truncated(field: "milliseconds left"))
        assertRejects("02 07", .truncated(field: "outcome"))
        assertRejects("09 09 05 05 68", .truncated(field: "chunk"))
    }

    func testUnknownFrameTypes() {
        for type: UInt8 in [0x00, 0x0f, 0x7f, 0xff] {
            assertRejects(String(format: "%02x 00", type), .unknownFrameType(type))
        }
    }

    func testBadEnumerationBytes() {
        assertRejects("02 07 04", .invalidByte(4, field: "outcome"))
        assertRejects("02 07 ff", .invalidByte(0xff, field: "outcome"))
        assertRejects("0b 02", .invalidByte(2, field: "departure"))
        assertRejects("0e 02 65 75 02", .invalidByte(2, field: "congested"))
    }

    func testOversizeLengths() {
        // A name of 1025 bytes is announced: rejected before the bytes are needed.
        assertRejects("03 81 08", .lengthOverLimit(field: "cluster", length: 1025, limit: 1024))
        let small = PeerFrameDecoder(limits: PeerFrameLimits(maxMessageBytes: 4, maxNameBytes: 8,
                                                              maxReasonBytes: 2, maxChunkBytes: 3))
        assertRejects("01 07 01 63 05 05", .lengthOverLimit(field: "payload", length: 5, limit: 4), decoder: small)
        assertRejects("02 07 03 03", .lengthOverLimit(field: "reason", length: 3, limit: 2), decoder: small)
        assertRejects("09 01 05 04", .lengthOverLimit(field: "chunk", length: 4, limit: 3), decoder: small)
        assertRejects("06 01 02 04", .lengthOverLimit(field: "chunk limit", length: 4, limit: 3), decoder: small)
        // A length above Int.max must not trap.
        assertRejects("04 ff ff ff ff ff ff ff ff ff 01",
                      .lengthOverLimit(field: "topic", length: .max, limit: 1024))
    }

    func testOverlongVarints() {
        assertRejects("08 ff ff ff ff ff ff ff ff ff ff 01", .varintTooLong(field: "tunnel id"))
        assertRejects("08 01 ff ff ff ff ff ff ff ff ff 02", .varintTooLong(field: "allowance"))
    }

    func testEmptyNamesChunksAndZeroChunkLimit() {
        assertRejects("01 07 00 05 00", .mustNotBeEmpty(field: "cluster"))
        assertRejects("04 00 00", .mustNotBeEmpty(field: "topic"))
        assertRejects("09 09 00 00", .mustNotBeEmpty(field: "chunk"))
        assertRejects("06 03 09 00", .mustNotBeEmpty(field: "chunk limit"))
    }

    func testTrailingBytes() {
        assertRejects("0b 00 00", .trailingBytes(count: 1))
        assertRejects("02 07 02 01 02", .trailingBytes(count: 2))
    }

    /// Random bytes and random corruptions of the golden frames: always a frame or an error,
    /// never a trap, and whatever decodes survives a round trip (bytes may differ: non-minimal
    /// varints are accepted, as in v1, and re-encoded minimally).
    func testRandomInputNeverTraps() {
        var generator = SeededGenerator(seed: 5)
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round.isMultiple(of: 2) {
                bytes = (0..<Int.random(in: 0..<24, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                bytes = Array(ByteBuffer(hex: goldenFrames.randomElement(using: &generator)!.hex).readableBytesView)
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            if let frame = try? decoder.decode(ByteBuffer(bytes: bytes)) {
                XCTAssertEqual(try decoder.decode(PeerFrameEncoder.encode(frame)), frame)
            }
        }
    }
}
