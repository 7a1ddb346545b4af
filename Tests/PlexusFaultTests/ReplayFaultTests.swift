import Foundation
import PlexusFaultBed
import PlexusProcesses
import XCTest

/// Issue 10, defect 7 at the process level: a gossip datagram captured on the bridge on its way
/// from relay 0 to relay 1, replayed to relay 2 within the replay window, is refused (counted as
/// an authentication failure, never applied); replayed to relay 1 it is a replay.
final class ReplayFaultTests: XCTestCase {
    func testDatagramCapturedOnItsWayToOneRelayIsRefusedByAnother() throws {
        let bed = try makeFaultBed(relays: 3)
        defer { bed.tearDown() }
        try bed.startAll()
        guard bed.waitUntilAllAlive(timeout: 20) != nil else {
            XCTFail("the overlay never formed; relay 0 log:\n\(bed.log(0))")
            return
        }
        guard let captured = bed.captureDatagram(from: 0, to: 1, timeout: 10) else {
            XCTFail("no datagram from relay 0 to relay 1 seen on the bridge")
            return
        }
        let refusedBefore = bed.status(2)?.counters.droppedAuthentication ?? 0
        let replaysBefore = bed.status(1)?.counters.droppedReplayed ?? 0
        XCTAssertTrue(bed.replayDatagram(captured, to: 2))
        let refused = waitUntil(5) { (bed.status(2)?.counters.droppedAuthentication ?? 0) > refusedBefore }
        XCTAssertTrue(refused, "relay 2 did not refuse a datagram sealed for relay 1: \(String(describing: bed.status(2)?.counters))")
        // The capture was genuine and fresh: its own destination recognises it as a replay.
        XCTAssertTrue(bed.replayDatagram(captured, to: 1))
        let replayed = waitUntil(5) { (bed.status(1)?.counters.droppedReplayed ?? 0) > replaysBefore }
        XCTAssertTrue(replayed, "relay 1 did not count the replay: \(String(describing: bed.status(1)?.counters))")
        print("fault-bed replay: a \(captured.count)-byte datagram captured from relay 0 to relay 1 → relay 2 refused it "
              + "(droppedAuthentication), relay 1 counted it as replayed")
    }
}
