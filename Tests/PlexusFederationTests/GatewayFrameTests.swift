import NIOCore
import PlexusFederation
import PlexusPeerWire
import PlexusTestSupport
import PlexusVocabulary
import XCTest

func text(_ string: String) -> ByteBuffer { ByteBuffer(string: string) }
let sampleNode = NodeID(high: 0x0001_0203_0405_0607, low: 0x0809_0a0b_0c0d_0e0f)
let eu = OverlayName("eu")!
let us = OverlayName("us")!

/// The worked examples of `Docs/federation.md` §4, byte for byte.
let goldenGatewayFrames: [(name: String, frame: GatewayFrame, hex: String)] = [
    ("hello", .hello(version: 1, overlay: eu, gateway: sampleNode),
     "01 01 02 65 75 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f"),
    ("interest full", .interest(GatewayInterest(version: 1, kind: .full, changes: [.addCluster("echo"), .addTopic("news")])),
     "02 01 00 02 00 04 65 63 68 6f 01 04 6e 65 77 73"),
    ("interest delta", .interest(GatewayInterest(version: 3, kind: .delta, changes: [.addCluster("echo"), .removeTopic("news")])),
     "02 03 01 02 00 04 65 63 68 6f 03 04 6e 65 77 73"),
    ("interest empty full", .interest(GatewayInterest(version: 0, kind: .full, changes: [])), "02 00 00 00"),
    ("request", .request(id: 7, cluster: text("echo"), millisecondsLeft: 1500, payload: text("hi")),
     "03 07 04 65 63 68 6f dc 0b 02 68 69"),
    ("reply success", .reply(id: 7, outcome: .success(reply: text("ok"))), "04 07 00 02 6f 6b"),
    ("reply fault", .reply(id: 7, outcome: .fault(text("boom"))), "04 07 01 04 62 6f 6f 6d"),
    ("reply timed out", .reply(id: 7, outcome: .timedOut), "04 07 02"),
    ("reply failed", .reply(id: 7, outcome: .failed(reason: text("no member"))), "04 07 03 09 6e 6f 20 6d 65 6d 62 65 72"),
    ("broadcast", .broadcast(cluster: text("echo"), message: text("x")), "05 04 65 63 68 6f 01 78"),
    ("event", .event(topic: text("news"), publisher: sampleNode, sequence: 1, event: text("e1")),
     "06 04 6e 65 77 73 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 01 02 65 31"),
    ("ping", .ping(nonce: 5), "07 05"),
    ("pong", .pong(nonce: 300), "08 ac 02"),
    ("tunnel init", .tunnelInit(tunnelID: 9, cluster: text("echo"), millisecondsLeft: 1500), "09 09 04 65 63 68 6f dc 0b"),
    ("tunnel confirm", .tunnelConfirm(initiatorTunnelID: 9, acceptorTunnelID: 2, chunkLimit: 65536), "0a 09 02 80 80 04"),
    ("tunnel refuse", .tunnelRefuse(initiatorTunnelID: 9, reason: text("no")), "0b 09 02 6e 6f"),
    ("tunnel allow", .tunnelAllow(tunnelID: 2, bytes: 300), "0c 02 ac 02"),
    ("tunnel transfer", .tunnelTransfer(tunnelID: 2, sizeOrContinuation: 3, chunk: text("abc")), "0d 02 03 03 61 62 63"),
    ("tunnel close", .tunnelClose(tunnelID: 2, reason: ByteBuffer()), "0e 02 00"),
]

final class GatewayFrameTests: XCTestCase {
    func testEncodingMatchesGoldenBytes() {
        for example in goldenGatewayFrames {
            XCTAssertEqual(GatewayFrameEncoder.encode(example.frame).hexString, ByteBuffer(hex: example.hex).hexString, example.name)
            XCTAssertEqual(GatewayFrameEncoder.encodedSize(example.frame), ByteBuffer(hex: example.hex).readableBytes, example.name)
        }
    }

    func testGoldenBytesDecode() throws {
        for example in goldenGatewayFrames {
            XCTAssertEqual(try GatewayFrameDecoder().decode(ByteBuffer(hex: example.hex)), example.frame, example.name)
        }
    }

    func testEveryProperPrefixIsTruncatedOrEmpty() {
        for example in goldenGatewayFrames {
            let bytes = hexBytes(example.hex)
            for length in 0..<bytes.count {
                XCTAssertThrowsError(try GatewayFrameDecoder().decode(ByteBuffer(bytes: bytes[0..<length])), "\(example.name) prefix \(length)") { error in
                    let code = (error as? GatewayFrameError)?.code
                    XCTAssertTrue(code == .truncated || code == .emptyFrame, "\(example.name) prefix \(length): \(error)")
                }
            }
        }
    }

    func testRejectsMalformedFrames() {
        let cases: [(String, String, GatewayFrameError.Code)] = [
            ("unknown type 00", "00", .unknownFrameType),
            ("unknown type 0f", "0f 00", .unknownFrameType),
            ("trailing bytes", "07 05 00", .trailingBytes),
            ("hello version 0", "01 00 02 65 75 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f", .invalidByte),
            ("hello bad overlay", "01 01 02 45 55 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f", .invalidText),
            ("hello empty overlay", "01 01 00 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f", .mustNotBeEmpty),
            ("hello long overlay", "01 01 41", .lengthOverLimit),
            ("interest kind 2", "02 01 02 00", .invalidByte),
            ("full with removal", "02 01 00 01 02 04 65 63 68 6f", .invalidByte),
            ("change opcode 4", "02 01 01 01 04 04 65 63 68 6f", .invalidByte),
            ("too many changes", "02 01 01 ff ff 7f", .lengthOverLimit),
            ("invalid utf8 name", "02 01 01 01 00 01 ff", .invalidText),
            ("empty cluster", "03 07 00 00 00", .mustNotBeEmpty),
            ("name over limit", "05 81 08", .lengthOverLimit),
            ("outcome 4", "04 07 04", .invalidByte),
            ("varint 11 bytes", "07 80 80 80 80 80 80 80 80 80 80 01", .varintTooLong),
            ("varint over 64 bits", "07 ff ff ff ff ff ff ff ff ff 7f", .varintTooLong),
            ("length above Int.max", "05 04 65 63 68 6f ff ff ff ff ff ff ff ff ff 01", .lengthOverLimit),
        ]
        for (name, hex, code) in cases {
            XCTAssertThrowsError(try GatewayFrameDecoder().decode(ByteBuffer(hex: hex)), name) { error in
                XCTAssertEqual((error as? GatewayFrameError)?.code, code, "\(name): \(error)")
            }
        }
    }

    func testRejectsMalformedTunnelFrames() {
        let cases: [(hex: String, code: GatewayFrameError.Code)] = [
            ("0a 09 02 00", .mustNotBeEmpty),             // chunk limit 0
            ("0a 09 02 81 80 40", .lengthOverLimit),      // chunk limit over 1 MiB
            ("0d 02 03 00", .mustNotBeEmpty),             // empty chunk
            ("09 09 00 05", .mustNotBeEmpty),             // empty cluster
            ("0e 02 00 ff", .trailingBytes),
            ("0f", .unknownFrameType),
        ]
        for example in cases {
            XCTAssertThrowsError(try GatewayFrameDecoder().decode(ByteBuffer(hex: example.hex)), example.hex) { error in
                XCTAssertEqual((error as? GatewayFrameError)?.code, example.code, "\(example.hex): \(error)")
            }
        }
    }

    func testOverlayNames() {
        XCTAssertNotNil(OverlayName("eu-west.1_a"))
        XCTAssertNil(OverlayName(""))
        XCTAssertNil(OverlayName("EU"))
        XCTAssertNil(OverlayName("a b"))
        XCTAssertNil(OverlayName(String(repeating: "a", count: 65)))
        XCTAssertEqual(OverlayName.derived(fromKeyFingerprint: "1A2B3C4D").value, "overlay-1a2b3c4d")
        XCTAssertEqual(OverlayName.derived(fromKeyFingerprint: "").value, "overlay-unnamed")
    }
}
