import NIOCore
import PlexusCrypto
import PlexusNoise
@testable import PlexusSession
import XCTest

/// The golden bytes of Docs/session-protocol.md. The expected values were computed
/// independently (Python `cryptography` ChaCha20Poly1305), not by this code.
final class WireFormatGoldenTests: XCTestCase {
    static let payloadGolden = "00010001020d31302e302e302e313a373934360a5b3a3a315d3a37393436"
    static let frameHiGolden = "0013310fe7968db71685cc4d058bb84e4a9a4f6a6f"
    static let emptyFrameGolden = "00118ee63b044e960acccbaff6f47942b4033c"
    static let helloGolden = "002f5967e42a1fb902fdc2917a04d11e928f879392d3f1af9e2da2f738ec788621759b573708032fe52f3e3ac90a2c1a8e"

    let key = try! CipherKey(bytes: [UInt8](repeating: 0x42, count: 32))

    func hex(_ buffer: ByteBuffer) -> String { buffer.readableBytesView.map { String(format: "%02x", $0) }.joined() }

    func testHandshakePayloadGolden() throws {
        let payload = HandshakePayload(versions: 1...1, addresses: ["10.0.0.1:7946", "[::1]:7946"])
        let bytes = try payload.encode()
        XCTAssertEqual(bytes.map { String(format: "%02x", $0) }.joined(), Self.payloadGolden)
        XCTAssertEqual(try HandshakePayload.decode(bytes), payload)
        // Reserved trailing bytes are ignored.
        XCTAssertEqual(try HandshakePayload.decode(bytes + [9, 9]), payload)
    }

    func testHandshakePayloadLimits() throws {
        XCTAssertThrowsError(try HandshakePayload(versions: 1...1, addresses: Array(repeating: "a:1", count: 9)).encode())
        XCTAssertThrowsError(try HandshakePayload(versions: 1...1, addresses: [String(repeating: "a", count: 256)]).encode())
        XCTAssertThrowsError(try HandshakePayload.decode([0, 1, 0, 1]))                   // too short
        XCTAssertThrowsError(try HandshakePayload.decode([0, 2, 0, 1, 0]))                // empty range
        XCTAssertThrowsError(try HandshakePayload.decode([0, 1, 0, 1, 9]))                // too many addresses
        XCTAssertThrowsError(try HandshakePayload.decode([0, 1, 0, 1, 1, 5, 0x41]))       // truncated address
        XCTAssertThrowsError(try HandshakePayload.decode([0, 1, 0, 1, 1, 0]))             // empty address
        XCTAssertThrowsError(try HandshakePayload.decode([0, 1, 0, 1, 1, 1, 0xff]))       // invalid UTF-8
        XCTAssertThrowsError(try HandshakePayload.decode([UInt8](repeating: 0, count: 4097)))
    }

    func testTransportMessagesGolden() throws {
        var writer = TransportWriter(cipher: CipherState(key: key), rekeyInterval: 1 << 20, maximumFrameSize: 1000)
        var out = ByteBufferAllocator().buffer(capacity: 64)
        try writer.writeFrame(ByteBuffer(bytes: Array("hi".utf8)), into: &out)
        XCTAssertEqual(hex(out), Self.frameHiGolden)
        out.clear()
        try writer.writeFrame(ByteBuffer(), into: &out)
        XCTAssertEqual(hex(out), Self.emptyFrameGolden)

        var responder = TransportWriter(cipher: CipherState(key: key), rekeyInterval: 1 << 20, maximumFrameSize: 1000)
        out.clear()
        let payload = try HandshakePayload(versions: 1...1, addresses: ["10.0.0.1:7946", "[::1]:7946"]).encode()
        try payload.withUnsafeBytes { try responder.writeMessage(type: .hello, body: $0, into: &out) }
        XCTAssertEqual(hex(out), Self.helloGolden)
    }

    func testGoldenBytesDecode() throws {
        var reader = TransportReader(cipher: CipherState(key: key), rekeyInterval: 1 << 20, maximumFrameSize: 1000, expectingHello: false)
        var wire = ByteBuffer(bytes: hexBytes(Self.frameHiGolden + Self.emptyFrameGolden))
        let events = try reader.read(from: &wire, allocator: ByteBufferAllocator())
        guard events.count == 2, case .frame(let first) = events[0], case .frame(let second) = events[1] else {
            return XCTFail("expected two frames, got \(events)")
        }
        XCTAssertEqual(String(buffer: first), "hi")
        XCTAssertEqual(second.readableBytes, 0)
    }

    func testFragmentationBoundary() throws {
        var writer = TransportWriter(cipher: CipherState(key: key), rekeyInterval: 1 << 20, maximumFrameSize: 1 << 20)
        var out = ByteBufferAllocator().buffer(capacity: 0)
        try writer.writeFrame(ByteBuffer(repeating: 1, count: SessionLimits.maximumFragmentBody), into: &out)
        XCTAssertEqual(out.readableBytes, 2 + 65_535, "65,518 bytes fill exactly one maximal message")
        out.clear()
        try writer.writeFrame(ByteBuffer(repeating: 1, count: SessionLimits.maximumFragmentBody + 1), into: &out)
        XCTAssertEqual(out.readableBytes, (2 + 65_535) + (2 + 1 + 1 + 16), "one byte more needs a second message")
        XCTAssertEqual(out.getInteger(at: 0, as: UInt16.self), 65_535)
    }

    private func hexBytes(_ string: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = string.startIndex
        while index < string.endIndex {
            let next = string.index(index, offsetBy: 2)
            bytes.append(UInt8(string[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }
}
