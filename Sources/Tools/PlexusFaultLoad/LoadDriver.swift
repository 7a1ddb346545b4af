import Foundation
import NIOCore
import Plexus
import Synchronization

/// The client side of the load: numbered requests (each reply must be its request's payload),
/// events and broadcasts, and tunnels whose every message must come back byte for byte. Counts
/// every outcome; a failure is counted under its reason, never dropped.
enum LoadDriver {
    /// What happened so far.
    struct Tally {
        var requestsSent = 0
        var requestsAnswered = 0
        var wrongReplies = 0
        var requestFailures: [String: Int] = [:]
        var eventsPublished = 0
        var publishFailures: [String: Int] = [:]
        var broadcastsSent = 0
        var broadcastFailures: [String: Int] = [:]
        var tunnelsOpened = 0
        var tunnelsCompleted = 0
        var tunnelFailures: [String: Int] = [:]
        var tunnelBytesSent = 0
        var tunnelBytesEchoed = 0
        var tunnelMismatches = 0
        var latenciesMilliseconds: [Double] = []

        var fields: [String: Any] {
            let sorted = latenciesMilliseconds.sorted()
            func quantile(_ q: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
            return [
                "requestsSent": requestsSent, "requestsAnswered": requestsAnswered, "wrongReplies": wrongReplies,
                "requestFailures": requestFailures, "eventsPublished": eventsPublished, "publishFailures": publishFailures,
                "broadcastsSent": broadcastsSent, "broadcastFailures": broadcastFailures, "tunnelsOpened": tunnelsOpened,
                "tunnelsCompleted": tunnelsCompleted, "tunnelFailures": tunnelFailures, "tunnelBytesSent": tunnelBytesSent,
                "tunnelBytesEchoed": tunnelBytesEchoed, "tunnelMismatches": tunnelMismatches,
                "latencyP50Ms": quantile(0.5), "latencyP99Ms": quantile(0.99), "latencyMaxMs": sorted.last ?? 0,
            ]
        }
    }

    static func run(_ options: Options) async throws {
        let port = options.int("port", 55555), id = options.string("id", "d")
        let cluster = options.string("cluster", "load"), topic = options.string("topic", "load-events")
        let requests = options.int("requests", 0), concurrency = max(1, options.int("concurrency", 4))
        let events = options.int("events", 0), broadcasts = options.int("broadcasts", 0)
        let interval = Duration.milliseconds(options.int("interval-ms", 10))
        let tunnels = options.int("tunnels", 0), tunnelBytes = options.int("tunnel-bytes", 0)
        let deadline = ContinuousClock.now + .seconds(options.double("seconds", 600))
        let timeout = Duration.milliseconds(options.int("request-timeout-ms", 5000))
        let connection = try await connectWithRetry(seconds: 30) { try await Connection.connect(port: port) }
        let tally = Tallies()
        let reporter = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                if Task.isCancelled { break }
                LineOutput.shared.line("S " + jsonLine(tally.withLock { $0.fields }))
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency where requests > 0 {
                group.addTask {
                    var number = worker
                    while number < requests, ContinuousClock.now < deadline {
                        let payload = "\(id)-r-\(number)"
                        tally.withLock { $0.requestsSent += 1 }
                        let start = ContinuousClock.now
                        do {
                            let reply = try await connection.request(payload, to: cluster, timeout: timeout)
                            let elapsed = ContinuousClock.now - start
                            tally.withLock {
                                if reply == payload { $0.requestsAnswered += 1 } else { $0.wrongReplies += 1 }
                                $0.latenciesMilliseconds.append(milliseconds(elapsed))
                            }
                        } catch {
                            tally.withLock { $0.requestFailures[reason(error), default: 0] += 1 }
                        }
                        number += concurrency
                        try? await Task.sleep(for: interval)
                    }
                }
            }
            if events > 0 {
                group.addTask {
                    for number in 0..<events {
                        guard ContinuousClock.now < deadline else { break }
                        do {
                            try await connection.publish("\(id)-e-\(number)", to: topic)
                            tally.withLock { $0.eventsPublished += 1 }
                        } catch {
                            tally.withLock { $0.publishFailures[reason(error), default: 0] += 1 }
                        }
                        try? await Task.sleep(for: interval)
                    }
                }
            }
            if broadcasts > 0 {
                group.addTask {
                    for number in 0..<broadcasts {
                        guard ContinuousClock.now < deadline else { break }
                        do {
                            try await connection.broadcast("\(id)-b-\(number)", to: cluster)
                            tally.withLock { $0.broadcastsSent += 1 }
                        } catch {
                            tally.withLock { $0.broadcastFailures[reason(error), default: 0] += 1 }
                        }
                        try? await Task.sleep(for: interval * 4)
                    }
                }
            }
            if tunnels > 0, tunnelBytes > 0 {
                group.addTask {
                    for number in 0..<tunnels {
                        guard ContinuousClock.now < deadline else { break }
                        await runTunnel(number, bytes: tunnelBytes, connection: connection, cluster: cluster, tally: tally)
                        try? await Task.sleep(for: interval * 10)
                    }
                }
            }
        }
        reporter.cancel()
        LineOutput.shared.line("FINAL " + jsonLine(tally.withLock { $0.fields }))
        try? await connection.close()
    }

    /// Largest tunnel message the driver sends (one relay chunk).
    static let tunnelMessageBytes = 65_536

    /// One tunnel: messages of pseudo-random bytes (from the tunnel and message number), each
    /// echoed by the member and compared byte for byte before the next is sent.
    static func runTunnel(_ number: Int, bytes: Int, connection: Connection, cluster: String, tally: Tallies) async {
        let tunnel: Tunnel
        do {
            tunnel = try await connection.tunnel(to: cluster, timeout: .seconds(5))
        } catch {
            tally.withLock { $0.tunnelFailures["open: " + reason(error), default: 0] += 1 }
            return
        }
        tally.withLock { $0.tunnelsOpened += 1 }
        var sent = 0, message = 0
        do {
            while sent < bytes {
                let payload = pattern(tunnel: number, message: message, count: min(tunnelMessageBytes, bytes - sent))
                try await tunnel.send(payload, timeout: .seconds(20))
                tally.withLock { $0.tunnelBytesSent += payload.count }
                let echoed = try await tunnel.receive(timeout: .seconds(20))
                let exact = Array(echoed.readableBytesView) == payload
                tally.withLock {
                    if exact { $0.tunnelBytesEchoed += payload.count } else { $0.tunnelMismatches += 1 }
                }
                sent += payload.count
                message += 1
            }
            tally.withLock { $0.tunnelsCompleted += 1 }
        } catch {
            tally.withLock { $0.tunnelFailures[reason(error), default: 0] += 1 }
        }
        try? await tunnel.close()
    }

    /// `count` bytes of xorshift output seeded by the tunnel and message numbers.
    static func pattern(tunnel: Int, message: Int, count: Int) -> [UInt8] {
        var state = UInt64(truncatingIfNeeded: tunnel &* 1_000_003 &+ message &+ 1) &* 0x9E37_79B9_7F4A_7C15
        var bytes = [UInt8](repeating: 0, count: count)
        for index in 0..<count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            bytes[index] = UInt8(truncatingIfNeeded: state)
        }
        return bytes
    }
}

/// The driver's `Tally`, shared by its tasks.
final class Tallies: Sendable {
    private let state = Mutex(LoadDriver.Tally())

    func withLock<R>(_ body: (inout LoadDriver.Tally) -> R) -> R { state.withLock { body(&$0) } }
}

/// The failure's kind, as counted: "timed out", "no members", "refused: …", "connection lost", ….
func reason(_ error: any Error) -> String {
    switch error as? PlexusError {
    case .timedOut?: "timed out"
    case .noMembers?: "no members"
    case .refused(let text)?: "refused: \(text)"
    case .remoteFault?: "remote fault"
    case .connectionLost?: "connection lost"
    case .closed?: "closed"
    case .limitExceeded?: "limit exceeded"
    case .connectionFailed?: "connection failed"
    default: "other: \(error)"
    }
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}
