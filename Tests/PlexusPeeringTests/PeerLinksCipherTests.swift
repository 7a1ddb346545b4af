import Foundation
import NIOCore
import NIOPosix
import PlexusCrypto
@testable import PlexusPeering
import PlexusPeerWire
import XCTest

/// The cipher negotiation between real sessions on loopback (`Docs/session-protocol.md`, "Cipher
/// negotiation"): AESGCM where both relays run it, ChaChaPoly after one refused proposal, the
/// frames queued before the fallback delivered, the choice visible in the report.
final class PeerLinksCipherTests: XCTestCase {
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

    func report(_ peer: TestPeer) async throws -> PeerLinksReport { try await peer.on { $0.report() } }

    func testBothRelaysWithHardwareAESRunAESGCM() async throws {
        try XCTSkipUnless(AESGCM.isAvailable, "no AES-NI/PCLMUL on this CPU")
        let key = NetworkKey.generate()
        let a = try await TestPeer(key: key, loop: group.next(), configure: { $0.proposedCipher = .aesGCM })
        let b = try await TestPeer(key: key, loop: group.next())
        try await PeerLinksTests.send(50, from: a, to: b)
        let delivered = try await eventually(10) { b.publishes().count == 50 }
        XCTAssertTrue(delivered)
        XCTAssertEqual(b.publishes(), (0..<50).map { "e\($0)" })
        let (aReport, bReport) = (try await report(a), try await report(b))
        XCTAssertEqual(aReport.peers.first { $0.node == hexString(b.id.bytes) }?.cipher, "AESGCM")
        XCTAssertEqual(bReport.peers.first { $0.node == hexString(a.id.bytes) }?.cipher, "AESGCM")
        XCTAssertEqual(aReport.proposedCipher, "AESGCM")
        XCTAssertEqual(aReport.cipherFallbacks, 0)
        await a.shutdown()
        await b.shutdown()
    }

    func testARefusedProposalFallsBackToChaChaPolyWithoutLosingQueuedFrames() async throws {
        try XCTSkipUnless(AESGCM.isAvailable, "no AES-NI/PCLMUL on this CPU")
        let key = NetworkKey.generate()
        let a = try await TestPeer(key: key, loop: group.next(), configure: { $0.proposedCipher = .aesGCM })
        // B stands for a relay without hardware AES (or of an older version): ChaChaPoly only.
        let b = try await TestPeer(key: key, loop: group.next(), configure: { $0.acceptedCiphers = [.chaChaPoly] })
        try await PeerLinksTests.send(50, from: a, to: b)
        let delivered = try await eventually(10) { b.publishes().count == 50 }
        XCTAssertTrue(delivered, "the frames queued during the refused handshake reach B after the fallback")
        XCTAssertEqual(b.publishes(), (0..<50).map { "e\($0)" })
        XCTAssertEqual(a.failures.withLockedValue { $0 }, [], "the fallback is not a link failure")
        let aReport = try await report(a)
        XCTAssertEqual(aReport.peers.first { $0.node == hexString(b.id.bytes) }?.cipher, "ChaChaPoly")
        XCTAssertEqual(aReport.cipherFallbacks, 1)
        XCTAssertEqual(aReport.handshakeFailures.refused, 1, "the refused proposal is counted as refused, not as a key mismatch")
        XCTAssertEqual(aReport.handshakeFailures.authentication, 0)
        // Remembered: the next dial (after the link closes) proposes ChaChaPoly at once.
        let bID = b.id
        let proposal = try await a.on { $0.proposal(for: bID).rawValue }
        XCTAssertEqual(proposal, "ChaChaPoly")
        await a.shutdown()
        await b.shutdown()
    }

    func testChaChaPolyOnlyDialsAreAcceptedByEveryRelay() async throws {
        let key = NetworkKey.generate()
        let a = try await TestPeer(key: key, loop: group.next(), configure: { $0.proposedCipher = .chaChaPoly })
        let b = try await TestPeer(key: key, loop: group.next())
        try await PeerLinksTests.send(10, from: a, to: b)
        let delivered = try await eventually(10) { b.publishes().count == 10 }
        XCTAssertTrue(delivered)
        let bReport = try await report(b)
        XCTAssertEqual(bReport.peers.first { $0.node == hexString(a.id.bytes) }?.cipher, "ChaChaPoly")
        await a.shutdown()
        await b.shutdown()
    }
}
