import Foundation
import NIOCore
import PlexusTestSupport
import NIOPosix
import PlexusRelay
import PlexusWire
import XCTest

/// Bad input closes only the offending connection; a second client keeps working.
final class LoopbackBadInputTests: LoopbackTestCase {
    override func configuration() -> RelayConfiguration {
        var configuration = super.configuration()
        configuration.handshakeTimeout = .milliseconds(200)
        configuration.wireLimits.maxMessageBytes = 1024
        return configuration
    }

    /// Runs `misbehave` on a fresh connection, expects the relay to close it, then checks that an
    /// already connected service still answers a request (sent after the bad one was dropped).
    private func assertOnlyOffenderClosed(handshakeFirst: Bool, file: StaticString = #filePath, line: UInt = #line,
                                          _ misbehave: (RawClient) -> Void) throws {
        let good = try handshake(cluster: "svc")
        let bad = handshakeFirst ? try handshake(cluster: nil) : try connect()
        misbehave(bad)
        try bad.waitForClose(timeout: 5)
        good.send(.request(id: 1, cluster: ByteBuffer(string: "svc"), payload: ByteBuffer(string: "ping"), timeoutMilliseconds: 5000))
        XCTAssertEqual(try good.readPacket(), .request(id: 0, payload: ByteBuffer(string: "ping"), timeoutMilliseconds: 5000), file: file, line: line)
        good.send(.reply(id: 0, outcome: .success(ByteBuffer(string: "pong"))))
        XCTAssertEqual(try good.readPacket(), .reply(id: 1, result: .success(ByteBuffer(string: "pong"))), file: file, line: line)
    }

    func testGarbageBeforeHandshake() throws {
        try assertOnlyOffenderClosed(handshakeFirst: false) { $0.send(bytes: Array("GET / HTTP/1.1\r\n\r\n".utf8)) }
    }

    func testBadMagicClosesSilently() throws {
        let bad = try connect()
        var buffer = ByteBuffer()
        buffer.writeBytes([0x00, 0x05]); buffer.writeString("hello")
        bad.send(encoded: buffer)
        XCTAssertEqual(try bad.waitForClose(), [], "no DENY for a non-Iris peer")
    }

    func testInvalidBool() throws {
        try assertOnlyOffenderClosed(handshakeFirst: true) { $0.send(bytes: [0x05, 0x00, 0x02]) }
    }

    func testUnknownOpcode() throws {
        try assertOnlyOffenderClosed(handshakeFirst: true) { $0.send(bytes: [0x42]) }
    }

    func testLengthOverLimit() throws {
        // BROADCAST to "svc" announcing a 1 MiB message (limit 1 KiB): closed before the bytes arrive.
        try assertOnlyOffenderClosed(handshakeFirst: true) { $0.send(bytes: [0x03, 0x03, 0x73, 0x76, 0x63, 0x80, 0x80, 0x40]) }
    }

    func testHandshakeThatNeverCompletes() throws {
        let start = Date()
        try assertOnlyOffenderClosed(handshakeFirst: false) { $0.send(bytes: [0x00, 0x11]) } // half an INIT
        XCTAssertLessThan(Date().timeIntervalSince(start), 4.0)
    }

    func testSilentConnectionDoesNotBlockOthers() throws {
        let silent = try connect()
        let other = try handshake(cluster: nil) // accepted while the silent one is still pending
        other.send(.close)
        XCTAssertEqual(try other.readPacket(), .close(reason: ByteBuffer()))
        XCTAssertEqual(try silent.waitForClose(timeout: 5), [])
    }

    func testCloseThenHalfCloseStillGetsTheAnswer() throws {
        let s = try handshake(cluster: "svc")
        s.send(.close)
        try? s.channel.close(mode: .output).wait() // may race with the relay closing first
        XCTAssertEqual(try s.waitForClose(), [0x02, 0x00])
    }

    func testNothingIsSentAfterClose() throws {
        let s = try handshake(cluster: "svc")
        s.send(.close, .broadcast(cluster: ByteBuffer(string: "svc"), message: ByteBuffer(string: "after")))
        XCTAssertEqual(try s.waitForClose(), [0x02, 0x00])
    }
}

/// Bounded queues and many connections.
final class LoopbackLoadTests: LoopbackTestCase {
    static let queueLimit = 1 << 20

    override func configuration() -> RelayConfiguration {
        var configuration = super.configuration()
        configuration.outboundQueueLimitBytes = Self.queueLimit
        return configuration
    }

    func testSlowSubscriberIsBoundedAndOthersGetEverything() async throws {
        let topic = ByteBuffer(string: "firehose")
        // The slow subscriber reads its handshake answer, subscribes, and never reads again.
        let slow = try handshake(cluster: nil, autoRead: false, receiveBuffer: 4096)
        // The fast subscriber is a service so the slow one can prove its SUBSCRIBE was processed.
        let fast = try handshake(cluster: "sync")
        slow.send(.subscribe(topic: topic),
                  .request(id: 1, cluster: ByteBuffer(string: "sync"), payload: ByteBuffer(), timeoutMilliseconds: 60_000))
        XCTAssertEqual(try fast.readPacket(), .request(id: 0, payload: ByteBuffer(), timeoutMilliseconds: 60_000))
        fast.send(.subscribe(topic: topic))

        let event = ByteBuffer(repeating: 0x5a, count: 1024)
        let total = 20_000, round = 250
        var received = 0
        for _ in 0..<(total / round) {
            var batch = ByteBuffer()
            for _ in 0..<round { batch.writeClientPacket(.publish(topic: topic, event: event)) }
            fast.send(encoded: batch)
            for packet in try fast.readPackets(round, timeout: 20) {
                guard case .publish(let t, let e) = packet, t == topic, e.readableBytes == 1024 else {
                    return XCTFail("not the expected event: \(packet)")
                }
                received += 1
            }
        }
        XCTAssertEqual(received, total)
        let stats = try await server.statistics()
        XCTAssertLessThanOrEqual(stats.peakConnectionQueuedBytes, Self.queueLimit)
        XCTAssertGreaterThan(stats.droppedEvents["firehose"] ?? 0, 0)
        XCTAssertLessThanOrEqual(stats.queuedBytes, Self.queueLimit)
        XCTAssertEqual(stats.connections, 2)
    }

    func testHundredConcurrentClientsConnectAndClose() async throws {
        let port = server.port
        let group = self.group!
        let failures = Failures()
        let done = DispatchGroup()
        for i in 0..<100 {
            done.enter()
            Thread.detachNewThread { // a thread each: connect, handshake and close block
                do {
                    let client = try RawClient.handshake(port: port, group: group, cluster: i % 2 == 0 ? nil : "many")
                    client.send(.close)
                    let rest = try client.waitForClose(timeout: 10)
                    if rest != [0x02, 0x00] { failures.add("client \(i) got \(rest)") }
                } catch {
                    failures.add("client \(i): \(error)")
                }
                done.leave()
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(failures.all, [])
        let stats = try await server.statistics()
        XCTAssertEqual(stats.connections, 0, "\(stats)")
        XCTAssertEqual(stats.clusters, 0)
    }

    func testShutdownSendsCloseWithReasonToEveryClient() async throws {
        let a = try handshake(cluster: "svc")
        let b = try handshake(cluster: nil)
        await server.shutdown()
        for client in [a, b] {
            var rest = ByteBuffer(bytes: try client.waitForClose())
            XCTAssertEqual(try RelayPacket.decode(from: &rest), .close(reason: ByteBuffer(string: "plexus: relay shutting down")))
            XCTAssertEqual(rest.readableBytes, 0)
        }
        await server.shutdown() // idempotent
    }
}
