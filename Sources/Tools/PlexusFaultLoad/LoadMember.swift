import Foundation
import NIOCore
import Plexus

/// A member of the load's cluster that also subscribes to its topic: answers each request with
/// its payload, echoes each tunnel message, and prints one line per request ("Q payload"),
/// broadcast ("B payload") and event ("E payload"), so the scenario can count each exactly once.
enum LoadMember {
    struct Service: ServiceHandler {
        func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer {
            LineOutput.shared.line("Q " + String(buffer: request))
            return request
        }

        func handleBroadcast(_ message: ByteBuffer) async {
            LineOutput.shared.line("B " + String(buffer: message))
        }

        func handleTunnel(_ tunnel: Tunnel) async {
            do {
                while true {
                    let message = try await tunnel.receive(timeout: .seconds(60))
                    try await tunnel.send(message, timeout: .seconds(60))
                }
            } catch {
                try? await tunnel.close()
            }
        }
    }

    static func run(_ options: Options) async throws {
        let port = options.int("port", 55555)
        let cluster = options.string("cluster", "load"), topic = options.string("topic", "load-events")
        let seconds = options.double("seconds", 600)
        // One broadcast handler at a time, so the lines show the order the relay delivered.
        var limits = ServiceLimits()
        limits.broadcastConcurrency = 1
        let connection = try await connectWithRetry(seconds: 30) {
            try await Connection.register(cluster: cluster, handler: Service(), limits: limits, port: port)
        }
        let events = try await connection.subscribe(to: topic)
        LineOutput.shared.line("READY")
        let deadline = ContinuousClock.now + .seconds(seconds)
        let reader = Task {
            do {
                for try await event in events { LineOutput.shared.line("E " + String(buffer: event)) }
            } catch {
                LineOutput.shared.line("X subscription ended: \(error)")
            }
        }
        while ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(200)) }
        reader.cancel()
        try? await connection.close()
    }
}

/// `body` until it succeeds or `seconds` pass (the relay in the namespace may still be starting).
func connectWithRetry<T>(seconds: Double, _ body: () async throws -> T) async throws -> T {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while true {
        do {
            return try await body()
        } catch {
            if ContinuousClock.now >= deadline { throw error }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
