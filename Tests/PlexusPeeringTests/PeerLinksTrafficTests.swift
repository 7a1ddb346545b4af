import Foundation
import NIOCore
import NIOPosix
import PlexusCrypto
@testable import PlexusPeering
import PlexusPeerWire
import PlexusSession
import XCTest

/// Peer metrics counted by `PeerLinks`: bytes and frames per peer relay both ways, the bound on
/// the number of peers with their own counters, and handshake failures by reason.
final class PeerLinksTrafficTests: XCTestCase {
    var group: MultiThreadedEventLoopGroup!

    override func setUp() { group = MultiThreadedEventLoopGroup(numberOfThreads: 2) }
    override func tearDown() { try? group.syncShutdownGracefully() }

    func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try await condition() { return true }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        return try await condition()
    }

    func testBytesAndFramesArePerPeerAndAgreeOnBothSides() async throws {
        let key = NetworkKey.generate()
        let a = try await TestPeer(key: key, loop: group.next())
        let b = try await TestPeer(key: key, loop: group.next())
        try await PeerLinksTests.send(100, from: a, to: b)
        let delivered = try await eventually(10) { b.publishes().count == 100 }
        XCTAssertTrue(delivered)
        let (aID, bID) = (a.id, b.id)
        let sent = try await a.on { $0.report() }
        let received = try await b.on { $0.report() }
        XCTAssertEqual(sent.peers.map(\.node), [hexString(bID.bytes)])
        XCTAssertEqual(received.peers.map(\.node), [hexString(aID.bytes)])
        let out = try XCTUnwrap(sent.peers.first?.traffic), into = try XCTUnwrap(received.peers.first?.traffic)
        XCTAssertEqual(out.framesSent, 100)
        XCTAssertEqual(into.framesReceived, 100)
        XCTAssertGreaterThan(out.bytesSent, 100 * 8, "each frame carries at least its topic and event")
        XCTAssertEqual(out.bytesSent, into.bytesReceived, "the same session-frame plaintext counted on both ends")
        XCTAssertEqual(out.framesReceived + into.framesSent, 0)
        XCTAssertEqual(sent.peers.first?.linked, true)
        XCTAssertEqual(sent.otherPeers, PeerTraffic())
        XCTAssertEqual(sent.handshakeFailures, PeerHandshakeFailureCounts())
        XCTAssertEqual(sent.admission, [:])
        // The totals only grow.
        try await PeerLinksTests.send(10, from: a, to: b, prefix: "more")
        let more = try await eventually(10) { b.publishes().count == 110 }
        XCTAssertTrue(more)
        let later = try await a.on { $0.report() }
        XCTAssertEqual(later.peers.first?.traffic.framesSent, 110)
        XCTAssertGreaterThan(later.peers.first?.traffic.bytesSent ?? 0, out.bytesSent)
        await a.shutdown()
        await b.shutdown()
    }

    func testPeersBeyondTheBoundShareOneBucket() {
        let table = PeerTrafficTable()
        for index in 0..<(PeerTrafficTable.maximumPeers + 10) {
            table.cell(for: NodeID(high: 0, low: UInt64(index))).traffic.framesSent += 1
        }
        XCTAssertEqual(table.cells.count, PeerTrafficTable.maximumPeers)
        XCTAssertEqual(table.other.traffic.framesSent, 10)
        XCTAssertTrue(table.cell(for: NodeID(high: 0, low: 3)) === table.cell(for: NodeID(high: 0, low: 3)))
    }

    /// A relay with another network key: both ends count an `authentication` failure (the
    /// responder refuses message 3, the dialer sees it close), and nothing else.
    func testWrongKeyIsCountedAsAuthenticationOnBothEnds() async throws {
        let a = try await TestPeer(key: NetworkKey.generate(), loop: group.next())
        let b = try await TestPeer(key: NetworkKey.generate(), loop: group.next())
        try await PeerLinksTests.send(1, from: a, to: b)
        let counted = try await eventually(10) {
            let dialer = try await a.on { $0.counters.handshakeFailures }
            let listener = try await b.on { $0.counters.handshakeFailures }
            return dialer.authentication == 1 && listener.authentication == 1
        }
        XCTAssertTrue(counted)
        let dialer = try await a.on { $0.report().handshakeFailures }
        XCTAssertEqual(dialer.timeout + dialer.malformed + dialer.refused, 0)
        await a.shutdown()
        await b.shutdown()
    }
}
