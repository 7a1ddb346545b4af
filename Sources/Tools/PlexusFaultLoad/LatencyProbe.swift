import Foundation
import Plexus

/// A well-behaved client: `count` requests one after the other to a member of `cluster`,
/// `interval` apart; prints "FINAL {p50, p99, max, failures}" (milliseconds).
enum LatencyProbe {
    static func run(_ options: Options) async throws {
        let port = options.int("port", 55555), cluster = options.string("cluster", "load")
        let count = options.int("count", 100), interval = Duration.milliseconds(options.int("interval-ms", 20))
        let connection = try await connectWithRetry(seconds: 30) { try await Connection.connect(port: port) }
        var latencies: [Double] = [], failures: [String: Int] = [:]
        for number in 0..<count {
            let start = ContinuousClock.now
            do {
                let reply = try await connection.request("probe-\(number)", to: cluster, timeout: .seconds(5))
                if reply == "probe-\(number)" {
                    latencies.append(milliseconds(ContinuousClock.now - start))
                } else {
                    failures["wrong reply", default: 0] += 1
                }
            } catch {
                failures[reason(error), default: 0] += 1
            }
            try? await Task.sleep(for: interval)
        }
        let sorted = latencies.sorted()
        func quantile(_ q: Double) -> Double { sorted.isEmpty ? -1 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        LineOutput.shared.line("FINAL " + jsonLine(["answered": sorted.count, "failures": failures, "p50Ms": quantile(0.5),
                                                    "p99Ms": quantile(0.99), "maxMs": sorted.last ?? -1]))
        try? await connection.close()
    }
}
