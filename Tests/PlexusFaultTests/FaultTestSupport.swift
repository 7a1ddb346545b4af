import Foundation
import PlexusFaultBed
import PlexusProcesses
import XCTest

/// A fault bed for one test, or a skip with the reason it cannot run here.
func makeFaultBed(relays: Int) throws -> FaultBed {
    if let reason = FaultBed.unavailableReason() { throw XCTSkip("fault bed unavailable: \(reason); skipped") }
    do {
        return try FaultBed(relayCount: relays)
    } catch FaultBedError.commandFailed(let command) {
        throw XCTSkip("fault bed set-up failed (\(command)); skipped")
    }
}

extension FaultBed {
    /// The state relay `observer` reports for node `subject` ("alive", "suspect", "dead", …), nil if unknown.
    func state(of subject: String, seenBy observer: Int) -> String? {
        status(observer)?.members.first { $0.node == subject }?.state
    }

    /// Seconds until `condition` holds (polled through `plexus status`), or nil after `timeout`.
    func secondsUntil(_ timeout: Double, _ condition: () -> Bool) -> Double? {
        let start = Date()
        return waitUntil(timeout, condition) ? Date().timeIntervalSince(start) : nil
    }

    /// How often relay `observer` logged that `subject` (node ID) became `state` ("dead", "suspect").
    func loggedChanges(to state: String, of subject: String, by observer: Int) -> Int {
        log(observer).split(separator: "\n").filter { $0.contains("member \(state)") && $0.contains(subject) }.count
    }
}

/// "median / max" of a list of seconds, for the measurement lines the tests print.
func summary(_ seconds: [Double]) -> String {
    guard !seconds.isEmpty else { return "n/a" }
    let sorted = seconds.sorted()
    return String(format: "median %.1f s, max %.1f s (n = %d)", sorted[sorted.count / 2], sorted.last!, sorted.count)
}
