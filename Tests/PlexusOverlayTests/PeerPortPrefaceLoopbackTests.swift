#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import PlexusCrypto
import PlexusOverlay
import PlexusProcesses
import XCTest

/// The peer port's preface on a real listener (an overlay alone, so it serves membership streams
/// only): a bad first byte and a messaging-session preface it does not serve each close that one
/// connection and are counted; a relay still joins through the same port afterwards.
final class PeerPortPrefaceLoopbackTests: XCTestCase {
    /// Connects to 127.0.0.1:port, writes `bytes`, and waits (at most 5 s) for the listener to
    /// close the connection; true if it did.
    func isClosedAfterSending(_ bytes: [UInt8], to port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopbackAddress(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected, write(fd, bytes, bytes.count) == bytes.count else { return false }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 64)
        return read(fd, &buffer, buffer.count) <= 0 && errno != EAGAIN // EOF or reset, not the 5 s timeout
    }

    func testBadAndUnservedPrefacesCloseOnlyThatConnectionAndAreCounted() async throws {
        var logger = Logger(label: "test.preface")
        logger.logLevel = .error
        let key = NetworkKey.generate()
        let configuration = OverlayConfiguration(identity: .ephemeral(), keyring: Keyring(primary: key), bindHost: "127.0.0.1",
                                                 peerPort: 0, advertiseHost: "127.0.0.1", logger: logger)
        let overlay = try await Overlay.start(configuration: configuration)
        let port = Int(overlay.advertisedAddress.port)
        // An earlier relay's handshake (no preface: a length's high byte first), then a session
        // preface at an overlay without messaging sessions.
        XCTAssertTrue(isClosedAfterSending([0x00, 0x30] + Array(repeating: 7, count: 48), to: port))
        XCTAssertTrue(isClosedAfterSending([0x53, 0x00, 0x30], to: port))
        let counters = try await overlay.status().counters
        XCTAssertEqual(counters.prefacesRefused, 2)
        XCTAssertEqual(counters.streamFailures, 0, "no session was ever started for them")

        // A relay joins through the same port ('M' streams).
        let joining = OverlayConfiguration(identity: .ephemeral(), keyring: Keyring(primary: key), bindHost: "127.0.0.1",
                                           peerPort: 0, advertiseHost: "127.0.0.1", seeds: [overlay.advertisedAddress],
                                           logger: logger)
        let second = try await Overlay.start(configuration: joining)
        var members = 0
        let deadline = Date().addingTimeInterval(10)
        repeat {
            members = try await overlay.status().members.filter { $0.state == "alive" }.count
            if members == 2 { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        } while Date() < deadline
        XCTAssertEqual(members, 2)
        await second.shutdown()
        await overlay.shutdown()
    }
}
