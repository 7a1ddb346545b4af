#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import Plexus
import PlexusProcesses
import PlexusWire
import XCTest

/// Names the client protocol can carry but the directory cannot must not crash a relay of an
/// overlay (issue 10, defect 1): the client gets a clear refusal and the relay keeps serving.
/// The Swift binding refuses such names itself, so raw v1 clients send them here.
final class CrossRelayLimitTests: XCTestCase {
    func testBadNamesFromOneClientAreRefusedAndTheOverlayRelayKeepsServing() async throws {
        let overlay = try RelayOverlay(["A", "B"], prefix: "plexus-xrelay-limits")
        defer { overlay.stop() }

        // On relay A: subscriptions to an empty topic and to a 256-byte one (each closes that
        // client's connection with the limit as reason), and a registration under a 256-byte
        // cluster name (denied with the limit).
        let empty = try RawV1Client(port: overlay.port("A"), cluster: "")
        try empty.send(.subscribe(topic: ByteBuffer()))
        XCTAssertEqual(try empty.readUntilClosed(), .close(reason: ByteBuffer(string: "plexus: limit: a topic name must be 1 to 255 bytes, got 0")))
        let long = try RawV1Client(port: overlay.port("A"), cluster: "")
        try long.send(.subscribe(topic: ByteBuffer(string: String(repeating: "t", count: 256))))
        XCTAssertEqual(try long.readUntilClosed(), .close(reason: ByteBuffer(string: "plexus: limit: a topic name must be 1 to 255 bytes, got 256")))
        XCTAssertThrowsError(try RawV1Client(port: overlay.port("A"), cluster: String(repeating: "c", count: 256))) { error in
            XCTAssertTrue("\(error)".contains("a cluster name must be 1 to 255 bytes, got 256"), "\(error)")
        }

        // Relay A is still up, and its record still gossips: a member on A is reachable from B,
        // and a member on B from A.
        let cluster = unique("xr-limits")
        let onA = try await overlay.register(cluster + "-a", on: "A", handler: Member("A"))
        let onB = try await overlay.register(cluster + "-b", on: "B", handler: Member("B"))
        await overlay.waitUntilVisible(cluster: cluster + "-a", on: ["A"], at: "B")
        await overlay.waitUntilVisible(cluster: cluster + "-b", on: ["B"], at: "A")
        let fromA = try await overlay.connect("A"), fromB = try await overlay.connect("B")
        let replyFromB = try await fromA.request("x", to: cluster + "-b", timeout: .seconds(5))
        let replyFromA = try await fromB.request("y", to: cluster + "-a", timeout: .seconds(5))
        XCTAssertEqual(replyFromB, "B:x")
        XCTAssertEqual(replyFromA, "A:y")
        XCTAssertNoThrow(try overlay.memory("A"), "relay A must still be running")
        for connection in [onA, onB, fromA, fromB] { try? await connection.close() }
    }

    /// Issue 14 / issue 10 defect 6 across relays: no member anywhere fails at once (< 50 ms),
    /// and once a member registers on another relay the same request is served.
    func testNoMemberAnywhereFailsAtOnceAcrossRelaysAndALaterMemberIsServed() async throws {
        let overlay = try RelayOverlay(["A", "B"], prefix: "plexus-xrelay-nomembers")
        defer { overlay.stop() }
        let cluster = unique("xr-nobody")
        let client = try await overlay.connect("A")
        let clock = ContinuousClock()
        let start = clock.now
        do {
            _ = try await client.request("x", to: cluster, timeout: .seconds(30))
            XCTFail("a request to a cluster without members was answered")
        } catch let error as PlexusError {
            XCTAssertEqual(error, .noMembers(cluster: cluster))
        }
        let elapsed = clock.now - start
        XCTAssertLessThan(elapsed, .milliseconds(50), "no-members answer took \(elapsed)")
        let member = try await overlay.register(cluster, on: "B", handler: Member("B"))
        await overlay.waitUntilVisible(cluster: cluster, on: ["B"], at: "A")
        let reply = try await client.request("x", to: cluster, timeout: .seconds(5))
        XCTAssertEqual(reply, "B:x")
        try? await member.close()
        try? await client.close()
    }
}

/// A v1 client on a blocking loopback socket (5 s receive timeout): handshakes in `init` (throws
/// with the DENY reason if denied), sends packets, reads packets.
final class RawV1Client {
    private let fd: Int32
    private var received = ByteBuffer()

    init(port: Int, cluster: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket failed") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopbackAddress(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { close(fd); throw Failure("connect to \(port) failed") }
        try send(.initiate(version: ByteBuffer(string: WireConstants.protocolVersion), cluster: ByteBuffer(string: cluster)))
        switch try readPacket() {
        case .accept: return
        case .deny(let reason): throw Failure("denied: \(String(buffer: reason))")
        case let other: throw Failure("unexpected answer to INIT: \(other)")
        }
    }

    func send(_ packet: ClientPacket) throws {
        var buffer = ByteBuffer()
        buffer.writeClientPacket(packet)
        let bytes = Array(buffer.readableBytesView)
        guard Glibc.send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw Failure("send failed") }
    }

    /// The next packet; throws when the socket closes or 5 s pass without one.
    func readPacket() throws -> RelayPacket {
        var chunk = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<10_000 {
            if let packet = try RelayPacket.decode(from: &received) { return packet }
            let n = read(fd, &chunk, chunk.count)
            guard n > 0 else { throw Failure("connection closed or silent") }
            received.writeBytes(chunk[0..<n])
        }
        throw Failure("no complete packet")
    }

    /// The last packet before the relay closes the socket.
    func readUntilClosed() throws -> RelayPacket? {
        var last: RelayPacket?
        while let packet = try? readPacket() { last = packet }
        return last
    }

    deinit { close(fd) }
}
