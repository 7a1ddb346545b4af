import Foundation
import PlexusFaultBed
import PlexusProcesses
import XCTest

/// Issue 10: floods on every port while a well-behaved client keeps its latency. Relays 0 and 1
/// form an overlay; a member of cluster "probe" and a client (the latency probe) use relay 0.
/// During the flood: `garbageConnections` connections sending random bytes and
/// `partialConnections` connections holding a never-finished 32 MiB frame on relay 0's client
/// port; `idlePeerConnections` idle TCP connections and junk datagrams on its peer port from a
/// stranger's namespace (relay 2's, no relay there); `httpConnections` never-finished HTTP
/// requests on its HTTP port. Asserted: every probe request is answered, p99 under
/// `latencyBound(baselineP99:)`, the relay keeps running with RSS under `memoryBound`, and the overlay is whole
/// when the flood ends.
final class FloodFaultTests: XCTestCase {
    static let garbageConnections = 100, partialConnections = 60, idlePeerConnections = 200, httpConnections = 100
    /// Probe requests: with 200, p99 is the second slowest, so one scheduling hiccup of this shared 2-core machine
    /// does not decide the run (with 100 it would be the slowest).
    static let probeRequests = 200
    /// The p99 bound during the flood: 250 ms, or ten times the p99 the same client measured just
    /// before the flood when the machine is so loaded (other builds on these 2 cores) that the
    /// unflooded relay is already slow. The test is about starvation, not about this machine's load.
    static let latencyFloor = 250.0, latencyFactorOverBaseline = 10.0
    static func latencyBound(baselineP99: Double) -> Double { max(latencyFloor, latencyFactorOverBaseline * baselineP99) }
    static let memoryBound = 512 << 20
    static let floodSeconds = 25

    func testFloodsOnEveryPortDoNotStarveAWellBehavedClient() throws {
        let bed = try makeFaultBed(relays: 3)
        defer { bed.tearDown() }
        try bed.start(0, join: [1])
        try bed.start(1, join: [0])
        guard let nodes = bed.waitUntilAllAlive([0, 1], timeout: 20), let a = nodes[0] else {
            return XCTFail("the overlay never formed; relay 0 log:\n\(bed.log(0))")
        }
        try bed.startLoadMember(on: 0, cluster: "probe", topic: "probe-events", seconds: 120, output: "member.out")
        XCTAssertTrue(bed.waitUntilReady(["member.out"], timeout: 20), "the member never registered")
        try bed.startHelper(in: 0, bed.loadTool, ["latency", "--port", "\(FaultBedRelay.clientPort)", "--cluster", "probe",
                                                  "--count", "\(Self.probeRequests)"], output: "baseline.out")
        guard let baseline = bed.finalSummary("baseline.out", timeout: 60) else { return XCTFail("no baseline") }
        let before = bed.processes.memory(bed.relays[0].name)

        let target = bed.relays[0].address, seconds = Self.floodSeconds
        try bed.startFlood(from: 0, kind: "garbage", host: "127.0.0.1", port: FaultBedRelay.clientPort,
                           connections: Self.garbageConnections, seconds: seconds, output: "flood-garbage.out")
        try bed.startFlood(from: 0, kind: "partial", host: "127.0.0.1", port: FaultBedRelay.clientPort,
                           connections: Self.partialConnections, seconds: seconds, output: "flood-partial.out")
        try bed.startFlood(from: 2, kind: "idle", host: target, port: FaultBedRelay.peerPort,
                           connections: Self.idlePeerConnections, seconds: seconds, output: "flood-idle.out")
        try bed.startFlood(from: 2, kind: "datagrams", host: target, port: FaultBedRelay.peerPort, seconds: seconds,
                           output: "flood-datagrams.out")
        try bed.startFlood(from: 0, kind: "http", host: "127.0.0.1", port: FaultBedRelay.adminPort,
                           connections: Self.httpConnections, seconds: seconds, output: "flood-http.out")
        Thread.sleep(forTimeInterval: 3) // let the floods build up before measuring
        var peakRSS = 0
        try bed.startHelper(in: 0, bed.loadTool, ["latency", "--port", "\(FaultBedRelay.clientPort)", "--cluster", "probe",
                                                  "--count", "\(Self.probeRequests)"], output: "probe.out")
        var probe: [String: Any]?
        _ = waitUntil(Double(seconds)) {
            peakRSS = max(peakRSS, bed.processes.memory(bed.relays[0].name)?.rss ?? 0)
            probe = LoadAudit.lastObject(prefix: "FINAL ", in: bed.helperOutput("probe.out"))
            return probe != nil
        }
        let cpuDuring = bed.processes.cpuSeconds(bed.relays[0].name) ?? 0
        let floods = ["garbage", "partial", "idle", "datagrams", "http"].map { kind in
            (kind, bed.finalSummary("flood-\(kind).out", timeout: Double(seconds) + 15) ?? [:])
        }
        XCTAssertTrue(bed.processes.isRunning(bed.relays[0].name), "the flooded relay died: \(bed.log(0).suffix(2000))")
        let whole = bed.secondsUntil(30) { bed.waitUntilAllAlive([0, 1], timeout: 0) != nil }
        let after = bed.processes.memory(bed.relays[0].name)
        guard let probe else { return XCTFail("the latency probe never finished during the flood") }
        let p99 = (probe["p99Ms"] as? Double) ?? .infinity
        XCTAssertEqual(probe["answered"] as? Int, Self.probeRequests, "probe failures: \(probe["failures"] ?? "-")")
        let baselineP99 = (baseline["p99Ms"] as? Double) ?? 0
        XCTAssertLessThan(p99, Self.latencyBound(baselineP99: baselineP99),
                          "p99 of the well-behaved client during the flood (before the flood: \(baselineP99) ms)")
        XCTAssertLessThan(peakRSS, Self.memoryBound, "relay memory during the flood")
        XCTAssertNotNil(whole, "relay 1 no longer sees relay 0 (\(a)) alive after the flood")
        print("fault-bed floods for \(seconds) s on relay 0: "
              + floods.map { "\($0.0) \($0.1.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))" }
                  .joined(separator: "; ")
              + String(format: " | probe p50 %.1f ms p99 %.1f ms max %.1f ms (before: p50 %.1f p99 %.1f)",
                       (probe["p50Ms"] as? Double) ?? -1, p99, (probe["maxMs"] as? Double) ?? -1,
                       (baseline["p50Ms"] as? Double) ?? -1, (baseline["p99Ms"] as? Double) ?? -1)
              + " | relay 0 RSS before \((before?.rss ?? 0) >> 20) MiB, peak during \(peakRSS >> 20) MiB, after \((after?.rss ?? 0) >> 20) MiB; "
              + String(format: "CPU %.1f s so far; overlay whole %@ after the flood", cpuDuring,
                       whole.map { String(format: "%.1f s", $0) } ?? "never"))
    }
}
