#if canImport(Glibc)
import Glibc
#endif
import Atomics
import Foundation
import NIOCore
import Plexus
import PlexusProcesses
import XCTest

/// Relay death and slow consumers across relays. Each test starts its own relays, since it
/// kills one or measures their memory.
final class CrossRelayFailureTests: XCTestCase {
    /// Bound asserted for "every pending request completes once its relay is killed": far below
    /// the requests' 30 s timeout (the relay's peer session closes at once on `kill -9`).
    static let failFastBound: Duration = .seconds(5)

    /// `kill -9` of relay B while 100 requests from A are held by B's member: every one
    /// completes with an error well before its 30 s timeout, and new requests then go to a
    /// second member of the cluster on C.
    func testKillingTheServingRelayFailsPendingRequestsAtOnceAndTrafficMovesOn() async throws {
        let overlay = try RelayOverlay(["A", "B", "C"], prefix: "plexus-xrelay-kill")
        defer { overlay.stop() }
        let cluster = unique("xr-kill")
        let held = Member("B", hold: true)
        let onB = try await overlay.register(cluster, on: "B", handler: held, limits: .init(requestConcurrency: 128))
        await overlay.waitUntilVisible(cluster: cluster, on: ["B"], at: "A")
        let client = try await overlay.connect("A")

        let pending = 100
        let clock = ContinuousClock()
        let requests = (0..<pending).map { i in
            Task { () -> (error: PlexusError?, completed: ContinuousClock.Instant) in
                do {
                    _ = try await client.request("held \(i)", to: cluster, timeout: .seconds(30))
                    return (nil, clock.now)
                } catch {
                    return (error as? PlexusError ?? .closed(reason: "\(error)"), clock.now)
                }
            }
        }
        let allHeld = await eventually(within: .seconds(20)) { held.held == pending }
        XCTAssertTrue(allHeld, "only \(held.held) of \(pending) requests reached B's member")

        // A second member, on C, before the kill (so it is in A's directory when B dies).
        let onC = Member("C")
        let serviceC = try await overlay.register(cluster, on: "C", handler: onC)
        await overlay.waitUntilVisible(cluster: cluster, on: ["C"], at: "A")
        XCTAssertEqual(onC.requests, 0, "no request was sent to C while B held them all")

        let killedAt = clock.now
        overlay.processes.signal("B", SIGKILL)
        var slowest: Duration = .zero
        var outcomes: [String: Int] = [:]
        for request in requests {
            let (error, completed) = await request.value
            outcomes[error.map { "\($0)" } ?? "success", default: 0] += 1
            XCTAssertEqual(error, .timedOut, "a held request was not answered timed-out after its relay was killed")
            slowest = max(slowest, completed - killedAt)
        }
        print("kill -9 of B with \(pending) requests pending: all completed within \(slowest) of the kill; outcomes \(outcomes)")
        XCTAssertLessThan(slowest, Self.failFastBound, "pending requests were not failed fast")
        overlay.processes.waitExit("B")

        // New requests: served by C (after at most a few early failures while A still lists B).
        var failuresBeforeFirstSuccess = 0
        let movedStart = clock.now
        var firstReply: String?
        while firstReply == nil && clock.now - movedStart < .seconds(20) {
            do {
                firstReply = try await client.request("after", to: cluster, timeout: .seconds(2))
            } catch {
                failuresBeforeFirstSuccess += 1
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        print("after the kill: \(failuresBeforeFirstSuccess) failed requests, first success after \(clock.now - movedStart)")
        XCTAssertEqual(firstReply, "C:after")
        for i in 0..<20 {
            try await XCTAssertEqualAsync(try await client.request("next \(i)", to: cluster, timeout: .seconds(5)), "C:next \(i)")
        }
        held.release()
        try await client.close()
        try await serviceC.close()
        try? await onB.close()
    }

    /// Relay B has a subscriber that never reads (raw socket, tiny receive buffer) and one that
    /// reads everything; a publisher on A sends 200 MiB of 64 KiB events, paced by the reading
    /// subscriber. Relay A's and B's memory stays within `memoryBound` of what it was before,
    /// the reading subscriber gets every event in order, and B counts drops for the topic.
    func testStalledSubscriberCostsBoundedMemoryAndOthersGetEverything() async throws {
        let overlay = try RelayOverlay(["A", "B"], prefix: "plexus-xrelay-slow")
        defer { overlay.stop() }
        let topic = unique("xr-firehose")
        let stalled = try StalledSubscriber(port: overlay.port("B"), topic: topic)
        let reader = try await overlay.connect("B")
        let events = try await reader.subscribe(to: topic)
        await overlay.waitUntilVisible(topic: topic, on: ["B"], at: "A")
        let publisher = try await overlay.connect("A")

        let eventSize = 64 * 1024, total = 200 * 1024 * 1024 / eventSize  // 3,200 events
        let window = 64  // events the reader may be behind (4 MiB)
        let received = ManagedAtomic(0), inOrder = ManagedAtomic(true), probed = ManagedAtomic(false)
        let consumer = Task {
            var iterator = events.makeAsyncIterator(); while let event = try? await iterator.next() {
                let sequence = event.getInteger(at: event.readerIndex, as: UInt64.self) ?? .max
                if sequence == .max { probed.store(true, ordering: .relaxed); continue }  // probe
                if sequence != UInt64(received.load(ordering: .relaxed)) { inOrder.store(false, ordering: .relaxed) }
                if received.wrappingIncrementThenLoad(ordering: .relaxed) == total { break }
            }
        }
        let probe = ByteBuffer(repeating: 0xff, count: 16)  // sequence UInt64.max
        let live = await eventually(within: .seconds(15), every: .milliseconds(50)) {
            if probed.load(ordering: .relaxed) { return true }
            Task { try? await publisher.publish(probe, to: topic) }
            return false
        }
        XCTAssertTrue(live, "the reading subscriber on B got no probe from A")

        let before = ["A": try overlay.memory("A"), "B": try overlay.memory("B")]
        var peak = before.mapValues { $0.rss }
        let clock = ContinuousClock()
        let start = clock.now
        var payload = ByteBuffer(repeating: 0x5a, count: eventSize)
        for sequence in 0..<total {
            let paced = await eventually(within: .seconds(30), every: .microseconds(200)) {
                sequence - received.load(ordering: .relaxed) < window
            }
            guard paced else { XCTFail("reader stalled at \(received.load(ordering: .relaxed)) of \(sequence) sent"); break }
            payload.setInteger(UInt64(sequence), at: 0)
            try await publisher.publish(payload, to: topic)
            if sequence % 256 == 0 {
                for name in ["A", "B"] { peak[name] = max(peak[name]!, overlay.processes.memory(name)?.rss ?? 0) }
            }
        }
        let done = await eventually(within: .seconds(30)) { received.load(ordering: .relaxed) == total }
        let elapsed = clock.now - start
        XCTAssertTrue(done, "reader got \(received.load(ordering: .relaxed)) of \(total)")
        XCTAssertTrue(inOrder.load(ordering: .relaxed), "reader saw events out of order")
        consumer.cancel()

        let after = ["A": try overlay.memory("A"), "B": try overlay.memory("B")]
        for name in ["A", "B"] {
            let growth = after[name]!.peak - before[name]!.rss
            print(String(format: "relay %@: VmRSS before %.1f MiB, after %.1f MiB, sampled max %.1f MiB, VmHWM %.1f MiB (peak − before = %.1f MiB) for 200 MiB in %.1f s",
                         name, mib(before[name]!.rss), mib(after[name]!.rss), mib(peak[name]!), mib(after[name]!.peak), mib(growth), seconds(elapsed)))
            XCTAssertLessThanOrEqual(growth, Self.memoryBound, "relay \(name) grew by \(mib(growth)) MiB")
        }
        let report = overlay.processes.status(adminPort: overlay.relays["B"]!.adminPort)?.relay
        let dropped = report?.droppedEvents[topic] ?? 0
        print("relay B counts \(dropped) events dropped for the topic; relay A: \(overlay.processes.status(adminPort: overlay.relays["A"]!.adminPort)?.relay?.droppedEvents ?? [:])")
        XCTAssertGreaterThan(dropped, 0, "no drop counted for the stalled subscriber in B's status: \(String(describing: report))")
        XCTAssertLessThanOrEqual(dropped, total)
        _ = stalled
        try await publisher.close()
        try await reader.close()
    }

    /// Memory a relay may add, peak over the pre-load RSS, while 200 MiB pass to a stalled
    /// subscriber: the stalled client's outbound queue (8 MiB) + the relay-to-relay queue's hard
    /// bound (32 MiB; the soft one is 8 MiB) + the paced window (4 MiB) + socket buffers and
    /// allocator slack. Measured: B +9 MiB, A +1.5 MiB (debug build, loopback).
    static let memoryBound = 64 * 1024 * 1024
}

func mib(_ bytes: Int) -> Double { Double(bytes) / 1_048_576 }
