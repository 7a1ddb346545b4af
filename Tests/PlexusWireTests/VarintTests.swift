import NIOCore
import PlexusTestSupport
@testable import PlexusWire
import XCTest

/// The varint table of spec §2, plus the decoder's robustness rules.
final class VarintTests: XCTestCase {
    func testSpecTable() throws {
        let table: [(UInt64, String)] = [
            (0, "00"), (1, "01"), (127, "7f"), (128, "80 01"), (300, "ac 02"), (1000, "e8 07"),
            (65_535, "ff ff 03"), (65_536, "80 80 04"), (4_194_304, "80 80 80 02"),
            (16_777_216, "80 80 80 08"), (67_108_864, "80 80 80 20"), (2_147_483_647, "ff ff ff ff 07"),
            (UInt64.max, "ff ff ff ff ff ff ff ff ff 01"),
        ]
        for (value, hex) in table {
            var buffer = ByteBuffer()
            let written = buffer.writeVarint(value)
            XCTAssertEqual(buffer, ByteBuffer(hex: hex), "encoding \(value)")
            XCTAssertEqual(written, ByteBuffer.varintSize(value))
            var reader = FieldReader(buffer: ByteBuffer(hex: hex))
            XCTAssertEqual(try reader.readVarint(field: "test"), value)
        }
    }

    func testNonMinimalFormsAreAccepted() throws {
        var reader = FieldReader(buffer: ByteBuffer(hex: "80 00"))
        XCTAssertEqual(try reader.readVarint(field: "test"), 0)
    }

    func testElevenByteVarintIsRejected() {
        var reader = FieldReader(buffer: ByteBuffer(hex: "80 80 80 80 80 80 80 80 80 80 01"))
        XCTAssertThrowsError(try reader.readVarint(field: "test")) { error in
            XCTAssertEqual((error as? WireError)?.code, .varintTooLong)
        }
    }

    func testTenByteVarintOverflowingSixtyFourBitsIsRejected() {
        var reader = FieldReader(buffer: ByteBuffer(hex: "ff ff ff ff ff ff ff ff ff 02"))
        XCTAssertThrowsError(try reader.readVarint(field: "test")) { error in
            XCTAssertEqual((error as? WireError)?.code, .varintTooLong)
        }
    }

    func testIncompleteVarintAsksForMoreBytes() throws {
        var reader = FieldReader(buffer: ByteBuffer(hex: "80 80"))
        XCTAssertNil(try reader.readVarint(field: "test"))
        XCTAssertEqual(reader.buffer.readerIndex, 0)
    }
}
