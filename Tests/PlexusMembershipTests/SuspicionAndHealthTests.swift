import XCTest
@testable import PlexusMembership

final class SuspicionAndHealthTests: XCTestCase {
    func testLifeguardTimeoutTable() {
        // (confirmations, expected K, min, max, timeout)
        let table: [(Int, Int, Milliseconds, Milliseconds, Milliseconds)] = [
            (0, 3, 2_000, 12_000, 12_000),   // no confirmation: maximum
            (1, 3, 2_000, 12_000, 7_000),    // 12 − 10·log 2/log 4 = 7
            (2, 3, 2_000, 12_000, 4_075),    // 12 − 10·log 3/log 4 = 4.075…
            (3, 3, 2_000, 12_000, 2_000),    // K confirmations: minimum
            (9, 3, 2_000, 12_000, 2_000),    // never below minimum
            (0, 2, 1_000, 6_000, 6_000),
            (1, 2, 1_000, 6_000, 2_845),     // 6 − 5·log 2/log 3 = 2.845…
            (2, 2, 1_000, 6_000, 1_000),
            (0, 0, 1_000, 6_000, 1_000),     // K = 0 (tiny cluster): minimum
            (0, 3, 5_000, 5_000, 5_000),     // min = max
        ]
        for (confirmations, expected, minimum, maximum, timeout) in table {
            XCTAssertEqual(SuspicionTimeout.timeout(confirmations: confirmations, expected: expected,
                                                    minimum: minimum, maximum: maximum), timeout,
                           "C=\(confirmations) K=\(expected) min=\(minimum) max=\(maximum)")
        }
    }

    func testMinimumScalesWithLog10OfClusterSize() {
        // memberlist's LAN figures: multiplier 4, 1 s → N = 100: 8 s, N = 1,000: 12 s, N = 10,000: 16 s.
        XCTAssertEqual(SuspicionTimeout.minimum(memberCount: 1, multiplier: 4, unit: 1_000), 4_000)
        XCTAssertEqual(SuspicionTimeout.minimum(memberCount: 5, multiplier: 4, unit: 1_000), 4_000)
        XCTAssertEqual(SuspicionTimeout.minimum(memberCount: 100, multiplier: 4, unit: 1_000), 8_000)
        XCTAssertEqual(SuspicionTimeout.minimum(memberCount: 1_000, multiplier: 4, unit: 1_000), 12_000)
        XCTAssertEqual(SuspicionTimeout.minimum(memberCount: 10_000, multiplier: 4, unit: 1_000), 16_000)
        // Plexus LAN: 1.5 × 500 ms units.
        XCTAssertEqual(SuspicionTimeout.minimum(memberCount: 1_000, multiplier: 1.5, unit: 500), 2_250)
    }

    func testRetransmitLimitMatchesMemberlistFormula() {
        var settings = MembershipSettings.lan
        settings.retransmitMultiplier = 4
        XCTAssertEqual(settings.retransmitLimit(memberCount: 1_000), 16)
        XCTAssertEqual(settings.retransmitLimit(memberCount: 9), 4)
        XCTAssertEqual(settings.retransmitLimit(memberCount: 50), 8)
    }

    func testSuspicionCountsEachConfirmerOnce() {
        let accuser = NodeID(high: 1, low: 1)
        var suspicion = Suspicion(incarnation: 1, accuser: accuser, startedAt: 1_000,
                                  minimum: 1_000, maximum: 6_000, expected: 2)
        XCTAssertEqual(suspicion.deadline, 7_000)
        XCTAssertFalse(suspicion.confirm(by: accuser), "the accuser is not a confirmation")
        XCTAssertTrue(suspicion.confirm(by: NodeID(high: 2, low: 2)))
        XCTAssertFalse(suspicion.confirm(by: NodeID(high: 2, low: 2)), "same confirmer twice")
        XCTAssertEqual(suspicion.deadline, 1_000 + 2_845)
        XCTAssertTrue(suspicion.confirm(by: NodeID(high: 3, low: 3)))
        XCTAssertEqual(suspicion.deadline, 2_000)
    }

    func testLocalHealthIsClampedAndScalesTimeouts() {
        var health = LocalHealth(maxMultiplier: 8)
        XCTAssertEqual(health.scale(500), 500)
        health.apply(3)
        XCTAssertEqual(health.scale(500), 2_000)
        health.apply(100)
        XCTAssertEqual(health.score, 7)
        XCTAssertEqual(health.scale(1_000), 8_000)
        health.apply(-100)
        XCTAssertEqual(health.score, 0)
    }
}
