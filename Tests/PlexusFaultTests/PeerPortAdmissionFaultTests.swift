import Foundation
import PlexusFaultBed
import PlexusProcesses
import XCTest

/// Issue 10, defect 3 (membership streams): a host that is no member keeps 300 idle TCP
/// connections open on relay 0's peer port (re-opened every 7 s, longer than the 5 s handshake
/// timeout); a new relay must still join through relay 0, and the refusals are counted.
final class PeerPortAdmissionFaultTests: XCTestCase {
    func testIdleConnectionsFromAStrangerDoNotStopARelayFromJoining() throws {
        let bed = try makeFaultBed(relays: 4) // relay 3's namespace hosts the stranger; no relay runs there
        defer { bed.tearDown() }
        try bed.start(0, join: [1])
        try bed.start(1, join: [0])
        guard bed.waitUntilAllAlive([0, 1], timeout: 20) != nil else {
            XCTFail("the overlay never formed; relay 0 log:\n\(bed.log(0))")
            return
        }
        try bed.holdIdleConnections(from: 3, to: 0, count: 300, seconds: 40, reopenEvery: 7)
        let flooded = waitUntil(15) { (bed.status(0)?.counters.connectionsRefusedPerSource ?? 0) > 200 }
        XCTAssertTrue(flooded, "the stranger's connections were not refused: \(String(describing: bed.status(0)?.counters))")

        // Relay 2 joins through relay 0 only, while the stranger keeps its connections coming.
        try bed.start(2, join: [0])
        let joined = bed.secondsUntil(20) { bed.waitUntilAllAlive([0, 1, 2], timeout: 0) != nil }
        XCTAssertNotNil(joined, "a relay could not join while idle connections were held; relay 2 log:\n\(bed.log(2))")
        let timedOut = waitUntil(10) { (bed.status(0)?.counters.handshakesTimedOut ?? 0) > 0 }
        XCTAssertTrue(timedOut, "admitted idle connections were never timed out")
        let counters = bed.status(0)?.counters
        XCTAssertLessThan(bed.log(0).components(separatedBy: "peer connection refused").count - 1, 20,
                          "refusals are logged at most once per reason per 10 s")
        print("fault-bed admission: 300 idle connections from a stranger → refused \(counters?.connectionsRefusedPerSource ?? 0) (per source), "
              + "\(counters?.connectionsRefusedTotal ?? 0) (total), timed out \(counters?.handshakesTimedOut ?? 0); "
              + "a new relay joined after \(joined.map { String(format: "%.1f s", $0) } ?? "never")")
    }
}
