import Foundation
import PlexusProcesses
import XCTest

/// Peer metrics on real relays (`plexus relay` processes on loopback): `/metrics` shows the bytes
/// per peer relay growing with traffic, and a relay with another network key counted as an
/// `authentication` handshake failure.
final class PeerMetricsProcessTests: XCTestCase {
    static let curl = ["/usr/bin/curl", "/bin/curl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// GET http://127.0.0.1:port/metrics with the relay's bearer token (bounded by 5 s), nil if it fails.
    static func scrape(_ port: Int, _ processes: RelayProcesses) -> String? {
        guard let curl else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: curl)
        var arguments = ["-sS", "--max-time", "5"]
        if let file = processes.tokenFile(adminPort: port),
           let token = try? String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) {
            arguments += ["-H", "Authorization: Bearer \(token)"]
        }
        process.arguments = arguments + ["http://127.0.0.1:\(port)/metrics"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile() // curl exits within --max-time
        process.waitUntilExit()
        return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }

    /// The value of the sample `series` (name and labels exactly as exported), 0 if absent.
    static func value(_ series: String, in text: String?) -> Double {
        guard let text else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1)) ?? 0
        }
        return 0
    }

    func testPerPeerBytesGrowAndAWrongKeyIsCountedAsAuthentication() throws {
        guard Self.curl != nil else { throw XCTSkip("curl not installed; skipped") }
        let processes = try RelayProcesses()
        defer {
            processes.stopAll()
            try? FileManager.default.removeItem(at: processes.directory)
        }
        let key = processes.path("network.key"), otherKey = processes.path("other.key")
        XCTAssertEqual(try processes.run(["keygen", "--out", key]).status, 0)
        XCTAssertEqual(try processes.run(["keygen", "--out", otherKey]).status, 0)
        let r1 = RelaySpec(name: "r1"), r2 = RelaySpec(name: "r2"), stranger = RelaySpec(name: "stranger")
        try processes.startRelay(r1, key: key, join: [])
        try processes.startRelay(r2, key: key, join: [r1])
        guard let nodes = processes.waitForOverlay([r1, r2], timeout: 15), let n1 = nodes["r1"] else {
            XCTFail("the overlay never formed; r2 log:\n\(processes.log("r2"))")
            return
        }
        try processes.start("service", ["serve", "echo", "--echo", "--port", "\(r1.clientPort)"])
        XCTAssertTrue(processes.waitUntilVisible(cluster: "echo", on: [n1], at: r2), "r2 never saw the service on r1")

        let sentToR1 = "plexus_peer_sent_bytes_total{peer=\"\(n1)\"}"
        var previous = Self.value(sentToR1, in: Self.scrape(r2.adminPort, processes))
        for round in 0..<2 {
            let reply = try processes.run(["request", "echo", String(repeating: "x", count: 1000), "--port", "\(r2.clientPort)"])
            XCTAssertEqual(reply.status, 0, "request \(round)")
            var current = previous
            let grew = waitUntil(5) {
                current = Self.value(sentToR1, in: Self.scrape(r2.adminPort, processes))
                return current >= previous + 1000
            }
            XCTAssertTrue(grew, "round \(round): \(sentToR1) went from \(previous) to \(current)")
            previous = current
        }
        let metrics = Self.scrape(r1.adminPort, processes)
        XCTAssertGreaterThanOrEqual(Self.value("plexus_peer_received_bytes_total{peer=\"\(nodes["r2"] ?? "")\"}", in: metrics), 2000)

        // A relay with another network key tries to join r1: r1 refuses its membership stream.
        try processes.startRelay(stranger, key: otherKey, join: [r1])
        let authentication = "plexus_peer_handshake_failures_total{kind=\"membership\",reason=\"authentication\"}"
        let counted = waitUntil(10) { Self.value(authentication, in: Self.scrape(r1.adminPort, processes)) >= 1 }
        XCTAssertTrue(counted, "no authentication failure counted at r1:\n\(Self.scrape(r1.adminPort, processes) ?? "no answer")")
        let atStranger = waitUntil(5) { Self.value(authentication, in: Self.scrape(stranger.adminPort, processes)) >= 1 }
        XCTAssertTrue(atStranger, "the stranger did not count its refused joins as authentication")
    }
}
