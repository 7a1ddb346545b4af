import Foundation
import PlexusFaultBed
import PlexusProcesses
import XCTest

/// Gateway failover on the namespace bed (`Docs/federation.md` §6): the serving overlay "us" has
/// two gateways, both linked to eu's; one is killed with SIGKILL while requests are pending.
final class FederationFailoverFaultTests: XCTestCase {
    /// Starts `plexus request echo PAYLOAD` on relay `index` in the background; its output, exit
    /// status and end time (seconds since the epoch) go to `output`.
    func startRequest(_ bed: FaultBed, on index: Int, _ payload: String, timeoutMilliseconds: Int, output: String) throws {
        let script = "\"$0\" request echo \(payload) --timeout \(timeoutMilliseconds) --port \(FaultBedRelay.clientPort) 2>&1; "
            + "echo \"rc=$? end=$(date +%s.%N)\""
        try bed.startHelper(in: index, "/bin/bash", ["-c", script, bed.processes.binary], output: output)
    }

    /// (exit status, end time, full output) of a request started by `startRequest`, once it ended.
    func finished(_ bed: FaultBed, _ output: String) -> (status: Int, end: Double, text: String)? {
        let text = bed.helperOutput(output)
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("rc=") }) else { return nil }
        let fields = line.split(separator: " ")
        guard fields.count == 2, let status = Int(fields[0].dropFirst(3)), let end = Double(fields[1].dropFirst(4)) else { return nil }
        return (status, end, text)
    }

    func testKillingOneGatewayFailsOnlyItsPendingRequestsAtOnceAndReroutes() throws {
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
        XCTAssertTrue(ready, "eu reaches the member in us")
        XCTAssertTrue(waitUntil(10) { bed.log(0).components(separatedBy: "gateway").count > 1 })

        // Two slow requests at once: eu's gateway puts them on its two links (fewest pending).
        let before = startedCount()
        try startRequest(bed, on: 1, "p1", timeoutMilliseconds: 8000, output: "pending-1.txt")
        try startRequest(bed, on: 1, "p2", timeoutMilliseconds: 8000, output: "pending-2.txt")
        XCTAssertTrue(waitUntil(5) { startedCount() >= before + 2 }, "both requests reached the member")
        let killedAt = Date().timeIntervalSince1970
        bed.kill(2)
        try startRequest(bed, on: 1, "p3", timeoutMilliseconds: 8000, output: "after-kill.txt")
        XCTAssertTrue(waitUntil(10) { finished(bed, "pending-1.txt") != nil && finished(bed, "pending-2.txt") != nil })
        let results = [finished(bed, "pending-1.txt"), finished(bed, "pending-2.txt")].compactMap { $0 }
        let failed = results.filter { $0.status != 0 }, succeeded = results.filter { $0.status == 0 }
        print("federation failover: pending requests \(results.map { String(format: "rc %d after %.2f s", $0.status, $0.end - killedAt) })")
        XCTAssertLessThanOrEqual(failed.count, 1, "only what was pending on the killed gateway fails")
        for result in failed {
            XCTAssertLessThan(result.end - killedAt, 1.5, "fails at once, not at its 8 s timeout: \(result.text)")
        }
        XCTAssertGreaterThanOrEqual(succeeded.count, 1, "the request on the other gateway is answered")

        // A request sent right after the kill goes through the surviving gateway.
        XCTAssertTrue(waitUntil(10) { finished(bed, "after-kill.txt") != nil })
        let after = finished(bed, "after-kill.txt")
        XCTAssertEqual(after?.status, 0, after?.text ?? "")
        let reroute = (after?.end ?? killedAt + 99) - killedAt - 2 // the service itself takes 2 s
        print(String(format: "federation failover: a request sent at the kill was answered %.2f s beyond the service's 2 s", reroute))
        XCTAssertLessThanOrEqual(reroute, 3, "rerouted within 3 s")
    }
}
