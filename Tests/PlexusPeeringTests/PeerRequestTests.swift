import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PlexusCrypto
@testable import PlexusPeering
import PlexusRouting
import XCTest

/// A relay's request endpoint on real sessions. The handler stands in for local delivery:
/// "echo:x" → success x, "fault" → fault "boom", anything else is never answered.
final class TestEndpoint: Sendable {
    let peer: TestPeer
    let endpoint: NIOLoopBound<PeerRequestEndpoint>
    let delivered = NIOLockedValueBox(0)
    let held = NIOLockedValueBox(0)

    let broadcasts = NIOLockedValueBox<[String]>([])
    let events = NIOLockedValueBox<[String]>([])

    init(key: NetworkKey, loop: EventLoop, outboundLimitBytes: Int = 16 * 1024 * 1024) async throws {
        peer = try await TestPeer(key: key, loop: loop, outboundLimitBytes: outboundLimitBytes)
        let broadcasts = self.broadcasts
        let events = self.events
        let links = peer.links
        let delivered = self.delivered
        let held = self.held
        endpoint = try await loop.submit {
            let endpoint = PeerRequestEndpoint(links: links.value)
            endpoint.handler = { _, payload, _, answer in
                delivered.withLockedValue { $0 += 1 }
                let text = String(buffer: payload)
                if text.hasPrefix("echo:") {
                    answer(.success(reply: ByteBuffer(string: String(text.dropFirst(5)))))
                } else if text == "fault" {
                    answer(.fault(ByteBuffer(string: "boom")))
                } else {
                    held.withLockedValue { $0 += 1 }
                }
            }
            endpoint.onBroadcast = { _, message in broadcasts.withLockedValue { $0.append(String(buffer: message)) } }
            endpoint.onPublish = { _, event in events.withLockedValue { $0.append(String(buffer: event)) } }
            return NIOLoopBound(endpoint, eventLoop: loop)
        }.get()
    }

    var target: PeerTarget { PeerTarget(node: peer.id, host: "127.0.0.1", port: peer.port) }

    /// Sends `count` requests to `target`; the returned box collects the outcomes.
    func request(_ payload: String, to target: TestEndpoint, timeout: TimeAmount, count: Int = 1) async throws
        -> NIOLockedValueBox<[PeerReplyOutcome]> {
        let outcomes = NIOLockedValueBox<[PeerReplyOutcome]>([])
        let (id, port) = (target.peer.id, target.peer.port)
        try await peer.loop.submit { [endpoint] in
            for _ in 0..<count {
                endpoint.value.request(cluster: ByteBuffer(string: "svc"), payload: ByteBuffer(string: payload), to: id,
                                       host: "127.0.0.1", port: port, timeout: timeout) { outcome in
                    outcomes.withLockedValue { $0.append(outcome) }
                }
            }
        }.get()
        return outcomes
    }
}

final class PeerRequestTests: XCTestCase {
    var group: MultiThreadedEventLoopGroup!

    override func setUp() { group = MultiThreadedEventLoopGroup(numberOfThreads: 3) }
    override func tearDown() { try? group.syncShutdownGracefully() }

    func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try await condition() { return true }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        return try await condition()
    }

    /// Reply, fault (byte-exact) and timeout across two relays; exactly one outcome each.
    func testReplyFaultAndTimeoutAcrossRelays() async throws {
        let key = NetworkKey.generate()
        let a = try await TestEndpoint(key: key, loop: group.next())
        let b = try await TestEndpoint(key: key, loop: group.next())
        let reply = try await a.request("echo:hi", to: b, timeout: .seconds(5))
        let fault = try await a.request("fault", to: b, timeout: .seconds(5))
        let started = Date()
        let slow = try await a.request("slow", to: b, timeout: .milliseconds(300))
        let done = try await eventually(5) { reply.withLockedValue { $0.count } == 1 && fault.withLockedValue { $0.count } == 1 }
        XCTAssertTrue(done)
        XCTAssertEqual(reply.withLockedValue { $0 }, [.success(reply: ByteBuffer(string: "hi"))])
        XCTAssertEqual(fault.withLockedValue { $0 }, [.fault(ByteBuffer(string: "boom"))])
        let timedOut = try await eventually(5) { slow.withLockedValue { $0.count } == 1 }
        XCTAssertTrue(timedOut)
        XCTAssertEqual(slow.withLockedValue { $0 }, [.timedOut])
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.29)
        // The serving relay's own deadline also fires; the requester still saw exactly one outcome.
        try await Task.sleep(nanoseconds: 200_000_000)
        XCTAssertEqual(slow.withLockedValue { $0.count }, 1)
        let served = try await b.peer.loop.submit { [endpoint = b.endpoint] in endpoint.value.pendingCount }.get()
        XCTAssertEqual(served, 0)
        await a.peer.shutdown()
        await b.peer.shutdown()
    }

    /// A request with no time left is answered timed-out by the serving relay and never delivered.
    func testExpiredRequestIsNotDelivered() async throws {
        let key = NetworkKey.generate()
        let a = try await TestEndpoint(key: key, loop: group.next())
        let b = try await TestEndpoint(key: key, loop: group.next())
        let outcome = try await a.request("echo:late", to: b, timeout: .zero)
        let done = try await eventually(5) { outcome.withLockedValue { $0.count } == 1 }
        XCTAssertTrue(done)
        XCTAssertEqual(outcome.withLockedValue { $0 }, [.timedOut])
        XCTAssertEqual(b.delivered.withLockedValue { $0 }, 0)
        await a.peer.shutdown()
        await b.peer.shutdown()
    }

    /// 100 requests pending on relay B (30 s timeout): B dies, every one fails at once with
    /// "plexus: relay <B> failed"; new requests go to the surviving relay C and succeed.
    func testServingRelayDeathFailsPendingRequestsAtOnce() async throws {
        let key = NetworkKey.generate()
        let a = try await TestEndpoint(key: key, loop: group.next())
        let b = try await TestEndpoint(key: key, loop: group.next())
        let c = try await TestEndpoint(key: key, loop: group.next())
        let pending = try await a.request("hold", to: b, timeout: .seconds(30), count: 100)
        let arrived = try await eventually(5) { b.held.withLockedValue { $0 } == 100 }
        XCTAssertTrue(arrived)
        let killed = Date()
        await b.peer.shutdown()
        let failed = try await eventually(5) { pending.withLockedValue { $0.count } == 100 }
        let elapsed = Date().timeIntervalSince(killed)
        XCTAssertTrue(failed)
        XCTAssertLessThan(elapsed, 1.0, "pending requests must fail well before their 30 s timeout")
        let reason = ByteBuffer(string: PeerRequestEndpoint.failedReason(b.peer.id))
        XCTAssertEqual(pending.withLockedValue { $0 }, Array(repeating: .failed(reason: reason), count: 100))
        let next = try await a.request("echo:ok", to: c, timeout: .seconds(5))
        let answered = try await eventually(5) { next.withLockedValue { $0.count } == 1 }
        XCTAssertTrue(answered)
        XCTAssertEqual(next.withLockedValue { $0 }, [.success(reply: ByteBuffer(string: "ok"))])
        print("peer-request-failover: 100 pending requests failed \(Int(elapsed * 1000)) ms after the serving relay closed")
        await a.peer.shutdown()
        await c.peer.shutdown()
    }

    /// DEPARTURE leaving from the serving relay fails what is pending there at once, while its
    /// session is still open.
    func testDepartureLeavingFailsPendingRequests() async throws {
        let key = NetworkKey.generate()
        let a = try await TestEndpoint(key: key, loop: group.next())
        let b = try await TestEndpoint(key: key, loop: group.next())
        let pending = try await a.request("hold", to: b, timeout: .seconds(30), count: 10)
        let arrived = try await eventually(5) { b.held.withLockedValue { $0 } == 10 }
        XCTAssertTrue(arrived)
        let aID = a.peer.id
        let sent = try await b.peer.on { $0.sendIfLinked(.departure(.leaving), to: aID) }
        XCTAssertEqual(sent, .queued)
        let failed = try await eventually(5) { pending.withLockedValue { $0.count } == 10 }
        XCTAssertTrue(failed)
        let reason = ByteBuffer(string: PeerRequestEndpoint.failedReason(b.peer.id))
        XCTAssertEqual(pending.withLockedValue { $0 }, Array(repeating: .failed(reason: reason), count: 10))
        await a.peer.shutdown()
        await b.peer.shutdown()
    }

    /// A relay with another network key cannot serve: the request fails fast, nothing delivered.
    func testForeignKeyRelayCannotServe() async throws {
        let a = try await TestEndpoint(key: .generate(), loop: group.next())
        let foreign = try await TestEndpoint(key: .generate(), loop: group.next())
        let outcome = try await a.request("echo:x", to: foreign, timeout: .seconds(30))
        let done = try await eventually(6) { outcome.withLockedValue { $0.count } == 1 }
        XCTAssertTrue(done)
        if case .failed = outcome.withLockedValue({ $0 }).first {} else {
            XCTFail("expected failed, got \(outcome.withLockedValue { $0 })")
        }
        XCTAssertEqual(foreign.delivered.withLockedValue { $0 }, 0)
        await a.peer.shutdown()
        await foreign.peer.shutdown()
    }
}
