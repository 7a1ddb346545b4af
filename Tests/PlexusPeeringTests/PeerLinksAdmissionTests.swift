#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import NIOPosix
import PlexusCrypto
@testable import PlexusPeering
import PlexusPeerWire
import PlexusSession
import XCTest

/// The relay-to-relay session listener bounds connections that never authenticate (issue 10,
/// defect 3): idle sockets from one source beyond the per-source limit are closed at once, and a
/// relay with the key still gets its session.
final class PeerLinksAdmissionTests: XCTestCase {
    var group: MultiThreadedEventLoopGroup!

    override func setUp() { group = MultiThreadedEventLoopGroup(numberOfThreads: 2) }
    override func tearDown() { try? group.syncShutdownGracefully() }

    func testIdleConnectionsBeyondThePerSourceLimitAreClosedAndARealPeerStillConnects() async throws {
        let key = NetworkKey.generate()
        let b = try await TestPeer(key: key, loop: group.next())
        let perSource = ConnectionAdmissionLimits().maximumPerSource
        // Idle TCP connections from 127.0.0.3 (a source of their own) that never send a byte.
        var idle: [Int32] = []
        defer { idle.forEach { close($0) } }
        for _ in 0..<(perSource + 4) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var source = sockaddr_in()
            source.sin_family = sa_family_t(AF_INET)
            source.sin_addr.s_addr = inet_addr("127.0.0.3")
            let bound = withUnsafePointer(to: &source) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            XCTAssertTrue(bound)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(b.port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            XCTAssertTrue(connected)
            idle.append(fd)
        }
        // The listener refuses the ones beyond the per-source limit (counted).
        let deadline = Date().addingTimeInterval(10)
        var refused = 0
        while Date() < deadline {
            refused = try await b.on { $0.admissionEvents[.refused(.perSourceLimit)] ?? 0 }
            if refused >= 4 { break }
            await Task.yield()
        }
        XCTAssertEqual(refused, 4)
        // A relay with the key, from another source address, still establishes a session.
        let a = try await TestPeer(key: key, loop: group.next())
        let (id, port) = (b.id, b.port)
        let queued = try await a.on { links in
            links.send(.publish(topic: ByteBuffer(string: "news"), event: ByteBuffer(string: "hello")), to: id,
                       host: "127.0.0.1", port: port)
        }
        XCTAssertEqual(queued, .queued)
        var delivered = false
        let end = Date().addingTimeInterval(10)
        while Date() < end, !delivered {
            delivered = b.publishes() == ["hello"]
            if !delivered { await Task.yield() }
        }
        XCTAssertTrue(delivered, "the real peer's frame did not arrive")
        await a.shutdown()
        await b.shutdown()
    }
}
