import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PlexusCrypto
@testable import PlexusPeering
import PlexusPeerWire
import XCTest

/// A started `PeerLinks` plus everything its callbacks saw.
final class TestPeer: Sendable {
    let links: NIOLoopBound<PeerLinks>
    let id: NodeID
    let port: Int
    let frames = NIOLockedValueBox<[(NodeID, PeerFrame)]>([])
    let failures = NIOLockedValueBox<[NodeID]>([])

    init(key: NetworkKey, loop: EventLoop, outboundLimitBytes: Int = 16 * 1024 * 1024,
         configure: (inout PeerLinksConfiguration) -> Void = { _ in }) async throws {
        let identity = StaticIdentity.ephemeral()
        var configuration = PeerLinksConfiguration(identity: identity, keyring: Keyring(primary: key),
                                                   outboundLimitBytes: outboundLimitBytes)
        configure(&configuration)
        links = try await PeerLinks.start(configuration: configuration, on: loop)
        id = identity.nodeID
        port = try await loop.submit { [links] in links.value.port }.get()
        try await loop.submit { [links, frames, failures] in
            links.value.onFrame = { peer, frame in frames.withLockedValue { $0.append((peer, frame)) } }
            links.value.onPeerFailed = { peer, _ in failures.withLockedValue { $0.append(peer) } }
        }.get()
    }

    var loop: EventLoop { links.eventLoop }

    func on<T: Sendable>(_ body: @escaping @Sendable (PeerLinks) -> T) async throws -> T {
        try await loop.submit { [links] in body(links.value) }.get()
    }

    func publishes() -> [String] {
        frames.withLockedValue { list in
            list.compactMap { entry -> String? in
                if case .publish(_, let event) = entry.1 { return String(buffer: event) }
                return nil
            }
        }
    }

    func shutdown() async {
        try? await loop.flatSubmit { [links] in links.value.shutdown() }.get()
    }
}

final class PeerLinksTests: XCTestCase {
    var group: MultiThreadedEventLoopGroup!

    override func setUp() { group = MultiThreadedEventLoopGroup(numberOfThreads: 3) }
    override func tearDown() { try? group.syncShutdownGracefully() }

    func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try await condition() { return true }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        return try await condition()
    }

    static func publish(_ index: Int) -> PeerFrame {
        .publish(topic: ByteBuffer(string: "news"), event: ByteBuffer(string: "e\(index)"))
    }

    static func send(_ count: Int, from a: TestPeer, to b: TestPeer, prefix: String = "e") async throws {
        let (id, port) = (b.id, b.port)
        let results = try await a.on { links in
            (0..<count).map { links.send(.publish(topic: ByteBuffer(string: "news"), event: ByteBuffer(string: "\(prefix)\($0)")),
                                         to: id, host: "127.0.0.1", port: port) }
        }
        XCTAssertEqual(results, Array(repeating: .queued, count: count))
    }

    /// 1,000 frames each way over one session per pair, in order; the answers reuse the link
    /// the first relay opened (no second session).
    func testOneReusedSessionPerPairKeepsOrderBothWays() async throws {
        let key = NetworkKey.generate()
        let a = try await TestPeer(key: key, loop: group.next())
        let b = try await TestPeer(key: key, loop: group.next())
        try await Self.send(1000, from: a, to: b)
        let delivered = try await eventually(10) { b.publishes().count == 1000 }
        XCTAssertTrue(delivered)
        XCTAssertEqual(b.publishes(), (0..<1000).map { "e\($0)" })
        XCTAssertTrue(b.frames.withLockedValue { $0.allSatisfy { $0.0 == a.id } })
        try await Self.send(1000, from: b, to: a, prefix: "r")
        let answered = try await eventually(10) { a.publishes().count == 1000 }
        XCTAssertTrue(answered)
        XCTAssertEqual(a.publishes(), (0..<1000).map { "r\($0)" })
        let aCounters = try await a.on { $0.counters }
        let bCounters = try await b.on { $0.counters }
        XCTAssertEqual(aCounters.sessionsEstablished, 1)
        XCTAssertEqual(bCounters.sessionsEstablished, 1)
        XCTAssertEqual(aCounters.sessionsFailed + bCounters.sessionsFailed, 0)
        await a.shutdown()
        await b.shutdown()
    }

    /// Both relays dial each other at once: every frame arrives, in order, and both end up on the
    /// session dialed by the smaller node ID.
    func testSimultaneousDialsConvergeOnOneSession() async throws {
        let key = NetworkKey.generate()
        for _ in 0..<20 {
            let a = try await TestPeer(key: key, loop: group.next())
            let b = try await TestPeer(key: key, loop: group.next())
            async let first: Void = Self.send(200, from: a, to: b)
            async let second: Void = Self.send(200, from: b, to: a)
            _ = try await (first, second)
            let delivered = try await eventually(10) { a.publishes().count == 200 && b.publishes().count == 200 }
            XCTAssertTrue(delivered)
            XCTAssertEqual(a.publishes(), (0..<200).map { "e\($0)" })
            XCTAssertEqual(b.publishes(), (0..<200).map { "e\($0)" })
            // After convergence, new frames still flow both ways and nothing failed.
            try await Self.send(10, from: a, to: b, prefix: "late")
            try await Self.send(10, from: b, to: a, prefix: "late")
            let late = try await eventually(10) { a.publishes().count == 210 && b.publishes().count == 210 }
            XCTAssertTrue(late)
            XCTAssertEqual(a.failures.withLockedValue { $0 }, [])
            XCTAssertEqual(b.failures.withLockedValue { $0 }, [])
            let (aID, bID) = (a.id, b.id)
            let linked = try await eventually(5) {
                let aLinked = try await a.on { $0.isLinked(to: bID) }
                let bLinked = try await b.on { $0.isLinked(to: aID) }
                return aLinked && bLinked
            }
            XCTAssertTrue(linked)
            await a.shutdown()
            await b.shutdown()
        }
    }

    /// A relay with another network key never gets a session: the sender is told at once.
    func testForeignKeyFailsFastAndDeliversNothing() async throws {
        let a = try await TestPeer(key: .generate(), loop: group.next())
        let foreign = try await TestPeer(key: .generate(), loop: group.next())
        try await Self.send(5, from: a, to: foreign)
        let failed = try await eventually(6) { a.failures.withLockedValue { $0 } == [foreign.id] }
        XCTAssertTrue(failed)
        XCTAssertEqual(foreign.publishes(), [])
        await a.shutdown()
        await foreign.shutdown()
    }

    /// An established peer going away is reported at once, and the next send dials again.
    func testPeerShutdownIsReportedAndNextSendRedials() async throws {
        let key = NetworkKey.generate()
        let a = try await TestPeer(key: key, loop: group.next())
        let b = try await TestPeer(key: key, loop: group.next())
        try await Self.send(3, from: a, to: b)
        let delivered = try await eventually(5) { b.publishes().count == 3 }
        XCTAssertTrue(delivered)
        let started = Date()
        await b.shutdown()
        let failed = try await eventually(5) { a.failures.withLockedValue { $0 } == [b.id] }
        XCTAssertTrue(failed)
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.0)
        // Dialing a dead port fails too (connection refused), again reported.
        try await Self.send(1, from: a, to: b)
        let again = try await eventually(5) { a.failures.withLockedValue { $0 }.count == 2 }
        XCTAssertTrue(again)
        await a.shutdown()
    }

    /// Frames waiting for a session count against the bound; at the bound nothing is queued.
    func testQueueIsBoundedInBytes() async throws {
        let key = NetworkKey.generate()
        let a = try await TestPeer(key: key, loop: group.next(), outboundLimitBytes: 90)
        let b = try await TestPeer(key: key, loop: group.next())
        let (id, port) = (b.id, b.port)
        // 9-byte frames (04 04 "news" 02 "eN"): ten fit, the eleventh overflows (same loop turn,
        // so no session exists yet).
        let results = try await a.on { links in
            (0..<11).map { links.send(Self.publish($0), to: id, host: "127.0.0.1", port: port) }
        }
        XCTAssertEqual(results, Array(repeating: .queued, count: 10) + [.overflow])
        let overflowed = try await a.on { $0.counters.framesOverflowed }
        XCTAssertEqual(overflowed, 1)
        let delivered = try await eventually(5) { b.publishes().count == 10 }
        XCTAssertTrue(delivered)
        let drained = try await eventually(5) { try await a.on { $0.queuedBytes(to: id) } == 0 }
        XCTAssertTrue(drained)
        // An empty queue takes one frame larger than the bound.
        let big = PeerFrame.publish(topic: ByteBuffer(string: "news"), event: ByteBuffer(repeating: 1, count: 500))
        let bigResults = try await a.on { links in
            [links.send(big, to: id, host: "127.0.0.1", port: port), links.send(Self.publish(0), to: id, host: "127.0.0.1", port: port)]
        }
        XCTAssertEqual(bigResults, [.queued, .overflow])
        await a.shutdown()
        await b.shutdown()
    }
}
