import Foundation
@testable import PlexusHTTP
import PlexusTelemetry
import XCTest

/// The `/metrics` text: valid Prometheus exposition (a parser written from the format's rules,
/// and `promtool check metrics` where installed), counters that follow the relay's totals, and
/// names by the Prometheus conventions.
final class MetricsExpositionTests: XCTestCase {
    static func fullSample() -> RelayMetricsSample {
        var sample = RelayMetricsSample()
        sample.clientsConnected = 7
        sample.relayFramesSent = 100
        sample.droppedEvents = 4
        sample.lostEvents = ["relay-unreachable": 300]
        sample.membersByState = ["alive": 3, "suspect": 1]
        sample.gossipDatagramsDropped = ["authentication": 2]
        var traffic = RelayTrafficCounters()
        traffic.countRequest(.ok, latencyNanoseconds: 1_500_000)
        traffic.countRequest(.timedOut, latencyNanoseconds: 2_000_000_000)
        traffic.countHandshakeFailure(.malformed)
        traffic.tunnelBytesIn = 4096
        sample.traffic = traffic
        var membership = MembershipMetricsSample()
        membership.probesSent = 40
        membership.probesAcknowledged = 39
        membership.probesFailed = 1
        membership.probeRoundTrip.record(nanoseconds: 2_000_000)
        membership.suspicionsRaised = 1
        membership.suspicionsRefuted = 1
        sample.membership = membership
        var protection = ProtectionMetricsSample()
        protection.protectedNames = 2
        protection.refusedRequests = 3
        protection.openFailures = 1
        sample.protection = protection
        sample.process = ProcessSample(cpuSeconds: 1.25, residentBytes: 10 << 20, openFileDescriptors: 12, startTimeSeconds: 1.7e9)
        return sample
    }

    func testExpositionParsesAndFollowsConventions() throws {
        let text = String(decoding: MetricsExporter().exposition(of: Self.fullSample()), as: UTF8.self)
        let families = try PrometheusText.parse(text)
        for (name, family) in families {
            XCTAssertTrue(name.hasPrefix("plexus_") || name.hasPrefix("process_"), name)
            XCTAssertFalse(family.help.isEmpty, "\(name) has no HELP")
            if family.type == "counter" { XCTAssertTrue(name.hasSuffix("_total"), "\(name): counters end in _total") }
            if family.type != "counter" { XCTAssertFalse(name.hasSuffix("_total"), "\(name): only counters end in _total") }
        }
        XCTAssertEqual(families["plexus_clients_connected"]?.samples["plexus_clients_connected"], 7)
        XCTAssertEqual(families["plexus_members"]?.samples["plexus_members{state=\"suspect\"}"], 1)
        XCTAssertEqual(families["plexus_members"]?.samples["plexus_members{state=\"dead\"}"], 0)
        XCTAssertEqual(families["plexus_requests_total"]?.samples["plexus_requests_total{outcome=\"timed_out\"}"], 1)
        XCTAssertEqual(families["plexus_handshake_failures_total"]?.samples["plexus_handshake_failures_total{reason=\"malformed\"}"], 1)
        let dropped = families["plexus_gossip_datagrams_dropped_total"]?.samples
        XCTAssertEqual(dropped?["plexus_gossip_datagrams_dropped_total{reason=\"authentication\"}"], 2)
        XCTAssertEqual(families["process_cpu_seconds_total"]?.samples["process_cpu_seconds_total"], 1.25)
        let histogram = try XCTUnwrap(families["plexus_request_duration_seconds"])
        XCTAssertEqual(histogram.type, "histogram")
        XCTAssertEqual(histogram.samples["plexus_request_duration_seconds_count"], 2)
        XCTAssertEqual(histogram.samples["plexus_request_duration_seconds_bucket{le=\"0.0025\"}"], 1)
        XCTAssertEqual(histogram.samples["plexus_request_duration_seconds_bucket{le=\"+Inf\"}"], 2)
        XCTAssertEqual(families["plexus_membership_probes_total"]?.samples["plexus_membership_probes_total"], 40)
        XCTAssertEqual(families["plexus_membership_suspicions_refuted_total"]?.samples["plexus_membership_suspicions_refuted_total"], 1)
        XCTAssertEqual(families["plexus_events_lost_total"]?.samples["plexus_events_lost_total{reason=\"relay-unreachable\"}"], 300)
        XCTAssertEqual(families["plexus_broadcasts_lost_total"]?.samples["plexus_broadcasts_lost_total{reason=\"slow-consumer\"}"], 0)
        XCTAssertEqual(families["plexus_protected_names"]?.samples["plexus_protected_names"], 2)
        XCTAssertEqual(families["plexus_protection_refusals_total"]?.samples["plexus_protection_refusals_total{what=\"request\"}"], 3)
        XCTAssertEqual(families["plexus_protection_open_failures_total"]?.samples["plexus_protection_open_failures_total"], 1)
        let rtt = try XCTUnwrap(families["plexus_membership_probe_rtt_seconds"])
        XCTAssertEqual(rtt.type, "histogram")
        XCTAssertEqual(rtt.samples["plexus_membership_probe_rtt_seconds_bucket{le=\"0.0025\"}"], 1)
        try PrometheusText.checkWithPromtool(text)
    }

    /// Golden text of the latency histogram (the part of the exposition this module writes itself).
    func testHistogramGoldenText() {
        var histogram = LatencyHistogram()
        histogram.record(nanoseconds: 80_000)
        histogram.record(nanoseconds: 3_000_000)
        histogram.record(nanoseconds: 40_000_000_000)
        let expected = """
            # HELP plexus_request_duration_seconds Latency.
            # TYPE plexus_request_duration_seconds histogram
            plexus_request_duration_seconds_bucket{le="0.0001"} 1
            plexus_request_duration_seconds_bucket{le="0.00025"} 1
            plexus_request_duration_seconds_bucket{le="0.0005"} 1
            plexus_request_duration_seconds_bucket{le="0.001"} 1
            plexus_request_duration_seconds_bucket{le="0.0025"} 1
            plexus_request_duration_seconds_bucket{le="0.005"} 2
            plexus_request_duration_seconds_bucket{le="0.01"} 2
            plexus_request_duration_seconds_bucket{le="0.025"} 2
            plexus_request_duration_seconds_bucket{le="0.05"} 2
            plexus_request_duration_seconds_bucket{le="0.1"} 2
            plexus_request_duration_seconds_bucket{le="0.25"} 2
            plexus_request_duration_seconds_bucket{le="1.0"} 2
            plexus_request_duration_seconds_bucket{le="5.0"} 2
            plexus_request_duration_seconds_bucket{le="30.0"} 2
            plexus_request_duration_seconds_bucket{le="+Inf"} 3
            plexus_request_duration_seconds_sum 40.00308
            plexus_request_duration_seconds_count 3

            """
        XCTAssertEqual(MetricsExporter.histogramText(name: "plexus_request_duration_seconds", help: "Latency.", histogram), expected)
    }

    func testCountersExportTheRelaysTotalsAcrossScrapes() throws {
        let exporter = MetricsExporter()
        var sample = RelayMetricsSample()
        sample.relayFramesSent = 10
        _ = exporter.exposition(of: sample)
        sample.relayFramesSent = 25
        let second = try PrometheusText.parse(String(decoding: exporter.exposition(of: sample), as: UTF8.self))
        XCTAssertEqual(second["plexus_relay_frames_sent_total"]?.samples["plexus_relay_frames_sent_total"], 25)
        sample.relayFramesSent = 25
        let third = try PrometheusText.parse(String(decoding: exporter.exposition(of: sample), as: UTF8.self))
        XCTAssertEqual(third["plexus_relay_frames_sent_total"]?.samples["plexus_relay_frames_sent_total"], 25)
    }

    func testWithoutTrafficCountersNothingPretendsToBeZero() throws {
        let families = try PrometheusText.parse(String(decoding: MetricsExporter().exposition(of: RelayMetricsSample()), as: UTF8.self))
        XCTAssertNil(families["plexus_requests_total"])
        XCTAssertNil(families["plexus_request_duration_seconds"])
        XCTAssertNotNil(families["plexus_clients_connected"])
    }
}

/// A strict reader of the Prometheus text format 0.0.4: every sample belongs to a family
/// announced by `# HELP` and `# TYPE` before it, names and labels match the format's grammar,
/// values are numbers, no sample appears twice.
enum PrometheusText {
    struct Family {
        var help = ""
        var type = ""
        var samples: [String: Double] = [:]
    }
    struct FormatError: Error, CustomStringConvertible { let description: String }

    static let maximumLines = 100_000

    static func parse(_ text: String) throws -> [String: Family] {
        var families: [String: Family] = [:]
        var current: String?
        let name = try Regex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")
        let sample = try Regex(#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*)?\})? (\S+)$"#)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count < maximumLines, text.hasSuffix("\n") else { throw FormatError(description: "too long or no final newline") }
        for line in lines.dropLast() {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ", maxSplits: 3)
                guard parts.count == 4, (try? name.wholeMatch(in: String(parts[2]))) != nil else {
                    throw FormatError(description: "bad comment: \(line)")
                }
                let family = String(parts[2])
                if line.hasPrefix("# HELP ") { families[family, default: Family()].help = String(parts[3]) }
                else {
                    guard ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                        throw FormatError(description: "bad type: \(line)")
                    }
                    guard families[family]?.type.isEmpty ?? true else { throw FormatError(description: "TYPE twice: \(family)") }
                    families[family, default: Family()].type = String(parts[3])
                }
                current = family
                continue
            }
            guard !line.hasPrefix("#") else { continue }
            guard let match = try sample.wholeMatch(in: String(line)), let metric = match.output[1].substring else {
                throw FormatError(description: "bad sample line: \(line)")
            }
            guard let value = match.output[5].substring.flatMap({ Double(String($0)) }) else {
                throw FormatError(description: "bad value: \(line)")
            }
            guard let family = current, metric == family
                || (families[family]?.type == "histogram" && ["_bucket", "_sum", "_count"].contains { metric == family + $0 }) else {
                throw FormatError(description: "sample outside its family: \(line)")
            }
            let key = String(line.split(separator: " ").dropLast().joined(separator: " "))
            guard families[family]?.samples[key] == nil else { throw FormatError(description: "duplicate sample: \(key)") }
            families[family]?.samples[key] = value
        }
        for (name, family) in families where family.type.isEmpty { throw FormatError(description: "\(name) has no TYPE") }
        return families
    }

    /// `promtool check metrics` on `text`, where Debian's prometheus package provides it.
    static func checkWithPromtool(_ text: String) throws {
        guard let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            print("promtool not installed (Debian package 'prometheus'); checked with the built-in parser only")
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: promtool)
        process.arguments = ["check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "promtool check metrics: \(report)")
        print("\(promtool) check metrics: exit \(process.terminationStatus) \(report)")
    }
}
