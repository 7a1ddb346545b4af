import Foundation
import PlexusFaultBed
import PlexusProcesses
import XCTest

/// Issue 10, SIGTERM drain under load: a relay with requests in flight (a service that answers
/// after `serviceDelay`) gets SIGTERM. The requests in flight complete with their answers; a new
/// request is refused at once with "plexus: refused: relay is draining"; the relay exits 0
/// within `exitBound`.
final class DrainFaultTests: XCTestCase {
    /// Requests in flight when SIGTERM arrives.
    static let inFlight = 8
    /// How long the service takes to answer.
    static let serviceDelay = 3
    /// The relay must have exited this many seconds after SIGTERM.
    static let exitBound = 15.0

    func testSigtermFinishesRequestsInFlightRefusesNewOnesAndExitsZero() throws {
        let bed = try makeFaultBed(relays: 2)
        defer { bed.tearDown() }
        try bed.startAll()
        guard bed.waitUntilAllAlive(timeout: 20) != nil else { return XCTFail("the overlay never formed") }
        let port = "\(FaultBedRelay.clientPort)", binary = bed.processes.binary
        try bed.startHelper(in: 0, binary, ["serve", "slow", "--exec", "sleep \(Self.serviceDelay); echo late", "--port", port])
        guard waitUntil(20, { bed.status(0)?.members.first { $0.isSelf }?.clusters.contains { $0.name == "slow" } == true }) else {
            return XCTFail("the service never registered")
        }
        for index in 0..<Self.inFlight {
            try bed.startHelper(in: 0, "/bin/bash", ["-c", "\"$0\" request slow x\(index) --timeout 20000 --port \(port) 2>&1; echo exit=$?",
                                                     binary], output: "inflight-\(index).out")
        }
        guard waitUntil(10, { (bed.status(0)?.relay?.pendingRequests ?? 0) >= Self.inFlight }) else {
            return XCTFail("the requests never reached the service: \(String(describing: bed.status(0)?.relay))")
        }
        let relay = bed.relays[0].name
        let signalled = Date()
        bed.processes.signal(relay, SIGTERM)
        // A new request while the relay drains.
        try bed.startHelper(in: 0, "/bin/bash", ["-c", "\"$0\" request slow late --timeout 20000 --port \(port) 2>&1; echo exit=$?",
                                                 binary], output: "new.out")
        let refused = bed.secondsUntil(5) { bed.helperOutput("new.out").contains("exit=") }
        let status = bed.processes.exitStatus(relay, timeout: Self.exitBound)
        let exitSeconds = Date().timeIntervalSince(signalled)
        XCTAssertNotNil(refused, "the new request was not answered at once")
        let newRequest = bed.helperOutput("new.out")
        // The relay's reason is "plexus: refused: relay is draining"; the CLI prints it as the binding's `.refused`.
        XCTAssertTrue(newRequest.contains("refused by the relay: relay is draining"), newRequest)
        XCTAssertTrue(newRequest.contains("exit=6"), "refusals exit 6: \(newRequest)")
        XCTAssertEqual(status, 0, "the relay did not exit 0 within \(Self.exitBound) s: \(bed.log(0).suffix(2000))")
        var completed = 0
        for index in 0..<Self.inFlight {
            let output = bed.helperOutput("inflight-\(index).out")
            if output.contains("late") && output.contains("exit=0") { completed += 1 } else { XCTFail("request \(index): \(output)") }
        }
        XCTAssertEqual(completed, Self.inFlight)
        print("fault-bed SIGTERM drain: \(completed) of \(Self.inFlight) requests in flight answered, a new one refused after "
              + "\(refused.map { String(format: "%.2f s", $0) } ?? "never") with \"relay is draining\", relay exited \(status.map(String.init) ?? "-") "
              + String(format: "%.1f s after SIGTERM (service delay %d s)", exitSeconds, Self.serviceDelay))
    }
}
