import Foundation
import PlexusFaultBed
import PlexusProcesses
import XCTest

/// The failover figure of `Docs/benchmarks.md` ("Federation"): the scenario of
/// `FederationFailoverFaultTests` ten times, each on a fresh namespace bed. Skipped unless
/// `PLEXUS_FEDERATION_FIGURES=1`.
extension FederationFailoverFaultTests {
    func testFailoverFigures() throws {
        guard ProcessInfo.processInfo.environment["PLEXUS_FEDERATION_FIGURES"] == "1" else {
            throw XCTSkip("set PLEXUS_FEDERATION_FIGURES=1 to measure the failover figures")
        }
        var pendingFailed: [Double] = [], rerouted: [Double] = []
        for run in 1...10 {
            let bed = try makeFaultBed(relays: 5)
            defer { bed.tearDown() }
            let euKey = try bed.makeKey("eu.key"), usKey = try bed.makeKey("us.key"), federationKey = try bed.makeKey("federation.key")
            try bed.startFederated(0, .init(key: euKey, overlay: "eu", join: [1], federationKey: federationKey))
            try bed.startFederated(1, .init(key: euKey, overlay: "eu", join: [0]))
            try bed.startFederated(2, .init(key: usKey, overlay: "us", join: [4], federationKey: federationKey, gatewayJoins: [0]))
            try bed.startFederated(3, .init(key: usKey, overlay: "us", join: [4], federationKey: federationKey, gatewayJoins: [0]))
            try bed.startFederated(4, .init(key: usKey, overlay: "us", join: [2, 3]))
            XCTAssertNotNil(bed.waitUntilAllAlive([0, 1], timeout: 20))
            XCTAssertNotNil(bed.waitUntilAllAlive([2, 3, 4], timeout: 20))
            let started = bed.processes.path("started.txt")
            func startedCount() -> Int { ((try? String(contentsOfFile: started, encoding: .utf8)) ?? "").split(separator: "\n").count }
            try bed.startClient(on: 4, ["serve", "echo", "--exec", "echo request >> \(started); sleep 2; echo slow"], output: "service.txt")
            let ready = waitUntil(30) {
                ((try? bed.client(on: 1, ["request", "echo", "x", "--timeout", "4000"]).output) ?? "").contains("slow")
            }
            XCTAssertTrue(ready, "run \(run): eu reaches the member in us")
            // Both links must be up so that the two requests spread over both gateways.
            XCTAssertTrue(waitUntil(10) { (bed.status(0).map { _ in true } ?? false) })
            let before = startedCount()
            try startRequest(bed, on: 1, "p1", timeoutMilliseconds: 8000, output: "pending-1.txt")
            try startRequest(bed, on: 1, "p2", timeoutMilliseconds: 8000, output: "pending-2.txt")
            XCTAssertTrue(waitUntil(5) { startedCount() >= before + 2 })
            let killedAt = Date().timeIntervalSince1970
            bed.kill(2)
            try startRequest(bed, on: 1, "p3", timeoutMilliseconds: 8000, output: "after-kill.txt")
            XCTAssertTrue(waitUntil(10) { finished(bed, "pending-1.txt") != nil && finished(bed, "pending-2.txt") != nil })
            let results = [finished(bed, "pending-1.txt"), finished(bed, "pending-2.txt")].compactMap { $0 }
            if let failed = results.first(where: { $0.status != 0 }) { pendingFailed.append(failed.end - killedAt) }
            XCTAssertTrue(waitUntil(10) { finished(bed, "after-kill.txt") != nil })
            if let after = finished(bed, "after-kill.txt"), after.status == 0 { rerouted.append(after.end - killedAt - 2) }
            print(String(format: "failover run %d: pending on the killed gateway failed after %@ s; request sent at the kill answered %@ s beyond the service's 2 s",
                         run, pendingFailed.count == run ? String(format: "%.3f", pendingFailed.last ?? -1) : "(none pending there)",
                         rerouted.count == run ? String(format: "%.3f", rerouted.last ?? -1) : "(failed)"))
        }
        func stats(_ values: [Double]) -> String {
            guard !values.isEmpty else { return "n/a" }
            let sorted = values.sorted()
            return String(format: "p50 %.3f s, max %.3f s (n = %d)", sorted[sorted.count / 2], sorted.last ?? 0, sorted.count)
        }
        print("FIGURE failover: pending request on the killed gateway failed after \(stats(pendingFailed)); "
              + "request sent at the kill answered beyond the service's 2 s after \(stats(rerouted))")
        XCTAssertEqual(rerouted.count, 10, "every request sent at the kill was answered")
    }
}
