import NIOCore
import PlexusTestSupport
import PlexusWire
import XCTest

/// Every malformed case is a `WireError` with a clear message, never a crash or a hang.
final class MalformedInputTests: XCTestCase {
    private func clientError(_ hex: String, limits: WireLimits = .default) -> WireError? {
        var buffer = ByteBuffer(hex: hex)
        do {
            _ = try ClientPacket.decode(from: &buffer, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    private func relayError(_ hex: String, limits: WireLimits = .default) -> WireError? {
        var buffer = ByteBuffer(hex: hex)
        do {
            _ = try RelayPacket.decode(from: &buffer, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    func testUnknownOpcodes() {
        XCTAssertEqual(clientError("0e")?.code, .unknownOpcode)
        XCTAssertEqual(clientError("ff")?.code, .unknownOpcode)
        XCTAssertEqual(relayError("0e")?.code, .unknownOpcode)
    }

    func testOpcodesInTheWrongDirection() {
        XCTAssertEqual(clientError("01 10")?.code, .unknownOpcode, "DENY is relay-only")
        XCTAssertEqual(relayError("06 01 74")?.code, .unknownOpcode, "SUBSCRIBE is client-only")
        XCTAssertEqual(relayError("07 01 74")?.code, .unknownOpcode, "UNSUBSCRIBE is client-only")
    }

    func testInvalidBools() {
        let fault = clientError("05 00 02 00")
        XCTAssertEqual(fault?.code, .invalidBool)
        XCTAssertTrue(fault?.description.contains("success") ?? false, fault?.description ?? "")
        XCTAssertEqual(relayError("05 00 02")?.code, .invalidBool)
        XCTAssertEqual(relayError("05 00 00 07")?.code, .invalidBool)
        XCTAssertEqual(relayError("0a 00 ff")?.code, .invalidBool)
    }

    func testWrongMagic() {
        // "iris-client-magik"
        XCTAssertEqual(clientError("00 11 69 72 69 73 2d 63 6c 69 65 6e 74 2d 6d 61 67 69 6b 00 00")?.code, .badMagic)
        XCTAssertEqual(relayError("00 03 61 62 63 00")?.code, .badMagic)
        XCTAssertEqual(relayError("01 03 61 62 63 00")?.code, .badMagic)
    }

    func testOversizedHandshakeField() {
        XCTAssertEqual(clientError("00 ff 01")?.code, .lengthOverLimit)
    }

    func testEveryLengthHasItsLimit() {
        let small = WireLimits(maxMessageBytes: 4, maxNameBytes: 3, maxReasonBytes: 2, maxHandshakeFieldBytes: 64, maxChunkBytes: 5)
        XCTAssertEqual(clientError("03 04", limits: small)?.code, .lengthOverLimit, "cluster name")
        XCTAssertEqual(clientError("03 01 63 05", limits: small)?.code, .lengthOverLimit, "broadcast message")
        XCTAssertEqual(clientError("04 01 01 63 05", limits: small)?.code, .lengthOverLimit, "request payload")
        XCTAssertEqual(clientError("05 00 01 05", limits: small)?.code, .lengthOverLimit, "reply")
        XCTAssertEqual(clientError("05 00 00 03", limits: small)?.code, .lengthOverLimit, "fault")
        XCTAssertEqual(clientError("06 04", limits: small)?.code, .lengthOverLimit, "topic")
        XCTAssertEqual(clientError("08 01 74 05", limits: small)?.code, .lengthOverLimit, "event")
        XCTAssertEqual(clientError("09 00 04", limits: small)?.code, .lengthOverLimit, "tunnel cluster")
        XCTAssertEqual(clientError("0c 00 00 06", limits: small)?.code, .lengthOverLimit, "chunk")
        XCTAssertEqual(relayError("02 03", limits: small)?.code, .lengthOverLimit, "close reason")
        XCTAssertEqual(relayError("0d 00 03", limits: small)?.code, .lengthOverLimit, "tunnel close reason")
        XCTAssertEqual(relayError("03 05", limits: small)?.code, .lengthOverLimit, "broadcast delivery")
        XCTAssertEqual(relayError("08 04", limits: small)?.code, .lengthOverLimit, "event topic")
    }

    func testDefaultMessageLimitIs64MiB() {
        XCTAssertEqual(WireLimits.default.maxMessageBytes, 64 * 1024 * 1024)
        // 64 MiB + 1 announced: refused before any byte of it arrives.
        var announce = ByteBuffer(hex: "08 01 74")
        announce.writeVarint(64 * 1024 * 1024 + 1)
        XCTAssertThrowsError(try ClientPacket.decode(from: &announce)) { error in
            XCTAssertEqual((error as? WireError)?.code, .lengthOverLimit)
            XCTAssertTrue("\(error)".contains("event"), "\(error)")
        }
    }

    func testTruncatedPacketsWaitInsteadOfFailing() throws {
        var full = ByteBuffer()
        full.writeClientPacket(.request(id: 5, cluster: text("echo"), payload: text("payload"), timeoutMilliseconds: 50))
        for length in 0..<full.readableBytes {
            var partial = full.getSlice(at: 0, length: length)!
            XCTAssertNil(try ClientPacket.decode(from: &partial), "prefix of \(length) bytes")
            XCTAssertEqual(partial.readableBytes, length, "nothing consumed")
        }
    }

    func testUnsupportedVersionMessageMatchesTheReference() {
        XCTAssertEqual(WireError.unsupportedVersion("v0.9").description,
                       "Unsupported protocol. Client: v0.9. Iris: v1.0-draft2.")
    }
}
