import NIOCore
import PlexusPeerWire
import PlexusTestSupport
import XCTest

/// The worked examples of `Docs/relay-to-relay.md` §4, byte for byte.
let goldenFrames: [(name: String, frame: PeerFrame, hex: String)] = [
    ("request", .request(id: 7, cluster: text("echo"), millisecondsLeft: 1500, payload: text("hi")),
     "01 07 04 65 63 68 6f dc 0b 02 68 69"),
    ("reply success", .reply(id: 7, outcome: .success(reply: text("ok"))), "02 07 00 02 6f 6b"),
    ("reply empty success", .reply(id: 7, outcome: .success(reply: text(""))), "02 07 00 00"),
    ("reply fault", .reply(id: 7, outcome: .fault(text("boom"))), "02 07 01 04 62 6f 6f 6d"),
    ("reply timed out", .reply(id: 7, outcome: .timedOut), "02 07 02"),
    ("reply failed", .reply(id: 7, outcome: .failed(reason: text("no member"))),
     "02 07 03 09 6e 6f 20 6d 65 6d 62 65 72"),
    ("broadcast", .broadcast(cluster: text("echo"), message: text("x")), "03 04 65 63 68 6f 01 78"),
    ("publish", .publish(topic: text("news"), event: text("e1")), "04 04 6e 65 77 73 02 65 31"),
    ("tunnel init", .tunnelInit(tunnelID: 3, cluster: text("echo"), millisecondsLeft: 1000),
     "05 03 04 65 63 68 6f e8 07"),
    ("tunnel confirm", .tunnelConfirm(initiatorTunnelID: 3, acceptorTunnelID: 9, chunkLimit: 65536),
     "06 03 09 80 80 04"),
    ("tunnel refuse", .tunnelRefuse(initiatorTunnelID: 3, reason: text("timeout")),
     "07 03 07 74 69 6d 65 6f 75 74"),
    ("tunnel allow", .tunnelAllow(tunnelID: 9, bytes: 4_194_304), "08 09 80 80 80 02"),
    ("tunnel transfer first", .tunnelTransfer(tunnelID: 9, sizeOrContinuation: 5, chunk: text("hello")),
     "09 09 05 05 68 65 6c 6c 6f"),
    ("tunnel transfer continuation", .tunnelTransfer(tunnelID: 9, sizeOrContinuation: 0, chunk: text("!")),
     "09 09 00 01 21"),
    ("tunnel close", .tunnelClose(tunnelID: 9, reason: text("")), "0a 09 00"),
    ("draining", .departure(.draining), "0b 00"),
    ("leaving", .departure(.leaving), "0b 01"),
    // Docs/federation.md: relay → gateway relay of its own overlay.
    ("gateway broadcast", .gatewayBroadcast(overlay: text("eu"), cluster: text("echo"), message: text("x")),
     "0c 02 65 75 04 65 63 68 6f 01 78"),
    ("gateway publish", .gatewayPublish(overlay: text("eu"), topic: text("news"), event: text("e1")),
     "0d 02 65 75 04 6e 65 77 73 02 65 31"),
    ("gateway congestion on", .gatewayCongestion(overlay: text("eu"), congested: true), "0e 02 65 75 01"),
    ("gateway congestion off", .gatewayCongestion(overlay: text("eu"), congested: false), "0e 02 65 75 00"),
]

final class PeerFrameGoldenTests: XCTestCase {
    func testEncodingMatchesGoldenBytes() {
        for example in goldenFrames {
            XCTAssertEqual(PeerFrameEncoder.encode(example.frame).hexString,
                           ByteBuffer(hex: example.hex).hexString, example.name)
        }
    }

    func testGoldenBytesDecodeToTheFrame() throws {
        let decoder = PeerFrameDecoder()
        for example in goldenFrames {
            XCTAssertEqual(try decoder.decode(ByteBuffer(hex: example.hex)), example.frame, example.name)
        }
    }

    func testEveryFrameTypeHasAGoldenExample() {
        let covered = Set(goldenFrames.map { $0.frame.type })
        XCTAssertEqual(covered, Set(PeerFrameType.allCases))
    }

    func testEncodedSizeIsExact() {
        let payload = ByteBuffer(repeating: 0xab, count: 100_000)
        var frames = goldenFrames.map(\.frame)
        frames += [
            .request(id: .max, cluster: text("c"), millisecondsLeft: .max, payload: payload),
            .tunnelAllow(tunnelID: .max, bytes: .max),
            .tunnelTransfer(tunnelID: 1 << 63, sizeOrContinuation: 64 << 20, chunk: payload),
            .reply(id: 128, outcome: .success(reply: ByteBuffer(repeating: 1, count: 127))),
        ]
        for frame in frames {
            XCTAssertEqual(frame.encodedSize, PeerFrameEncoder.encode(frame).readableBytes, "\(frame.type)")
        }
    }

    func testLargeValuesRoundTrip() throws {
        let payload = ByteBuffer(repeating: 0xab, count: 100_000)
        let frames: [PeerFrame] = [
            .request(id: .max, cluster: text("c"), millisecondsLeft: .max, payload: payload),
            .tunnelAllow(tunnelID: .max, bytes: .max),
            .tunnelTransfer(tunnelID: 1 << 63, sizeOrContinuation: 64 << 20, chunk: payload),
        ]
        for frame in frames {
            XCTAssertEqual(try PeerFrameDecoder().decode(PeerFrameEncoder.encode(frame)), frame)
        }
    }

    func testDecodedPayloadIsASliceOfTheFrame() throws {
        let encoded = PeerFrameEncoder.encode(
            .request(id: 1, cluster: text("c"), millisecondsLeft: 5, payload: ByteBuffer(repeating: 7, count: 4096)))
        guard case let .request(_, _, _, payload) = try PeerFrameDecoder().decode(encoded) else {
            return XCTFail("not a request")
        }
        let frameBase = encoded.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let payloadBase = payload.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        XCTAssertEqual(payloadBase, frameBase + UInt(encoded.readableBytes - 4096), "payload must not be copied")
    }
}
