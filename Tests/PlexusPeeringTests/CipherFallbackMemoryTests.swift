import PlexusMembership
import PlexusNoise
@testable import PlexusPeering
import XCTest

/// The cipher fallback on virtual time: a refusal is believed for `retryAfter`, then the
/// preferred suite is proposed again; the memory stays bounded.
final class CipherFallbackMemoryTests: XCTestCase {
    let peer = NodeID(high: 1, low: 2), other = NodeID(high: 3, low: 4)

    func testARefusalIsBelievedForTheRetryPeriodThenThePreferredCipherIsProposedAgain() {
        var memory = CipherFallbackMemory(capacity: 8, retryAfter: 1_000)
        XCTAssertEqual(memory.proposal(for: peer, preferred: .aesGCM, now: 0), .aesGCM)
        memory.recordRefusal(by: peer, now: 100)
        XCTAssertEqual(memory.proposal(for: peer, preferred: .aesGCM, now: 100), .chaChaPoly)
        XCTAssertEqual(memory.proposal(for: peer, preferred: .aesGCM, now: 1_099), .chaChaPoly)
        XCTAssertEqual(memory.proposal(for: other, preferred: .aesGCM, now: 500), .aesGCM, "only the refusing peer")
        XCTAssertEqual(memory.proposal(for: peer, preferred: .aesGCM, now: 1_100), .aesGCM, "retried after the period")
        XCTAssertEqual(memory.count, 0, "the expired refusal is forgotten")
        memory.recordRefusal(by: peer, now: 1_200)
        XCTAssertEqual(memory.proposal(for: peer, preferred: .aesGCM, now: 1_300), .chaChaPoly, "a second refusal starts a new period")
    }

    func testTheMemoryIsBoundedAndMakesRoomFromExpiredEntries() {
        var memory = CipherFallbackMemory(capacity: 2, retryAfter: 1_000)
        let peers = (0..<3).map { NodeID(high: 9, low: UInt64($0)) }
        memory.recordRefusal(by: peers[0], now: 0)
        memory.recordRefusal(by: peers[1], now: 600)
        memory.recordRefusal(by: peers[2], now: 700)   // full, nothing expired: not remembered
        XCTAssertEqual(memory.count, 2)
        XCTAssertEqual(memory.proposal(for: peers[2], preferred: .aesGCM, now: 700), .aesGCM)
        memory.recordRefusal(by: peers[2], now: 1_000) // peers[0] expired: room made
        XCTAssertEqual(memory.count, 2)
        XCTAssertEqual(memory.proposal(for: peers[2], preferred: .aesGCM, now: 1_001), .chaChaPoly)
        XCTAssertEqual(memory.proposal(for: peers[1], preferred: .aesGCM, now: 1_001), .chaChaPoly)
    }
}
