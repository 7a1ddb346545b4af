import NIOConcurrencyHelpers
import NIOCore
import Plexus

/// Echo service that records everything it sees. Thread-safe.
final class Recorder: ServiceHandler {
    private struct State {
        var calls = 0
        var runningRequests = 0
        var maxConcurrentRequests = 0
        var broadcasts: [ByteBuffer] = []
        var runningBroadcasts = 0
        var maxConcurrentBroadcasts = 0
        var broadcastsFinished = 0
        var drops: [String] = []
        var tunnelsEnded = 0
    }

    private let state = NIOLockedValueBox(State())
    let delay: Duration?
    init(delay: Duration? = nil) { self.delay = delay }

    var calls: Int { state.withLockedValue { $0.calls } }
    var maxConcurrentRequests: Int { state.withLockedValue { $0.maxConcurrentRequests } }
    var maxConcurrentBroadcasts: Int { state.withLockedValue { $0.maxConcurrentBroadcasts } }
    var broadcastCount: Int { state.withLockedValue { $0.broadcasts.count } }
    var broadcastsFinished: Int { state.withLockedValue { $0.broadcastsFinished } }
    var broadcastTexts: [String] { state.withLockedValue { $0.broadcasts.map { String(buffer: $0) } } }
    var broadcastBytes: [[UInt8]] { state.withLockedValue { $0.broadcasts.map { Array($0.readableBytesView) } } }
    var drops: [String] { state.withLockedValue { $0.drops } }
    var tunnelsEnded: Int { state.withLockedValue { $0.tunnelsEnded } }

    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer {
        state.withLockedValue {
            $0.calls += 1
            $0.runningRequests += 1
            $0.maxConcurrentRequests = max($0.maxConcurrentRequests, $0.runningRequests)
        }
        if let delay { try? await Task.sleep(for: delay) }
        state.withLockedValue { $0.runningRequests -= 1 }
        return request
    }

    func handleBroadcast(_ message: ByteBuffer) async {
        state.withLockedValue {
            $0.broadcasts.append(message)
            $0.runningBroadcasts += 1
            $0.maxConcurrentBroadcasts = max($0.maxConcurrentBroadcasts, $0.runningBroadcasts)
        }
        if let delay { try? await Task.sleep(for: delay) }
        state.withLockedValue {
            $0.runningBroadcasts -= 1
            $0.broadcastsFinished += 1
        }
    }

    func handleTunnel(_ tunnel: Tunnel) async {
        while let message = try? await tunnel.receive() {
            do { try await tunnel.send(message, timeout: .seconds(60)) } catch { break }
        }
        try? await tunnel.close()
        state.withLockedValue { $0.tunnelsEnded += 1 }
    }

    func handleDrop(reason: String) async {
        state.withLockedValue { $0.drops.append(reason) }
    }
}

/// Fails every request with the request's text as the fault.
struct FailWithText: ServiceHandler {
    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer {
        throw ServiceFault(String(buffer: request))
    }
}

/// Counts event handler invocations and their concurrency.
final class Counter: Sendable {
    private let state = NIOLockedValueBox((running: 0, maxConcurrent: 0, finished: 0, events: [[UInt8]]()))
    func enter(_ event: ByteBuffer) {
        state.withLockedValue {
            $0.running += 1
            $0.maxConcurrent = max($0.maxConcurrent, $0.running)
            $0.events.append(Array(event.readableBytesView))
        }
    }
    func leave() { state.withLockedValue { $0.running -= 1; $0.finished += 1 } }
    var finished: Int { state.withLockedValue { $0.finished } }
    var maxConcurrent: Int { state.withLockedValue { $0.maxConcurrent } }
    var events: [[UInt8]] { state.withLockedValue { $0.events } }
}
