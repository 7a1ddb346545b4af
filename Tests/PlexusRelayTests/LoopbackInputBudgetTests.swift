import Foundation
import NIOCore
import PlexusRelay
import PlexusRelayCore
import PlexusTestSupport
import PlexusWire
import XCTest

/// Unfinished packets of all connections share one input budget (issue 10, defect 2): the
/// connection whose input crosses it is closed with the limit as reason; the others, and what
/// they sent before, are not affected.
final class LoopbackInputBudgetTests: LoopbackTestCase {
    static let budget = 1024 * 1024

    override func configuration() -> RelayConfiguration {
        var configuration = super.configuration()
        configuration.wireLimits.maxMessageBytes = 8 * 1024 * 1024
        configuration.inputBudgetBytes = Self.budget
        return configuration
    }

    /// A PUBLISH to "t" announcing `announced` bytes of event, with only `sent` bytes of it.
    func partialPublish(announced: Int, sent: Int) -> [UInt8] {
        var header = ByteBuffer()
        header.writeInteger(UInt8(0x08)) // PUBLISH
        header.writeVarint(1)
        header.writeString("t")
        header.writeVarint(UInt64(announced))
        return Array(header.readableBytesView) + [UInt8](repeating: 0x61, count: sent)
    }

    func testTheConnectionThatCrossesTheBudgetIsClosedWithTheLimitAndOthersKeepWorking() async throws {
        let good = try handshake(cluster: "svc")
        let holders = try (0..<2).map { _ in try handshake(cluster: nil) }
        for holder in holders { holder.send(bytes: partialPublish(announced: 500 * 1024, sent: 400 * 1024)) } // 800 KiB held
        // Wait (bounded) until the relay holds both partial packets.
        let deadline = ContinuousClock.now + .seconds(10)
        var held = 0
        while ContinuousClock.now < deadline {
            held = try await server.statistics().bufferedInputBytes
            if held >= 800 * 1024 { break }
            await Task.yield()
        }
        XCTAssertGreaterThanOrEqual(held, 800 * 1024)

        let offender = try handshake(cluster: nil)
        offender.send(bytes: partialPublish(announced: 4 * 1024 * 1024, sent: 400 * 1024)) // 1.2 MiB > 1 MiB
        let closing = try offender.waitForClose(timeout: 10)
        let reason = String(decoding: closing, as: UTF8.self)
        XCTAssertTrue(reason.contains("input budget of \(Self.budget) bytes"), reason)

        // The holders are still connected and their packets still complete; the service still answers.
        good.send(.request(id: 1, cluster: ByteBuffer(string: "svc"), payload: ByteBuffer(string: "ping"), timeoutMilliseconds: 5000))
        XCTAssertEqual(try good.readPacket(), .request(id: 0, payload: ByteBuffer(string: "ping"), timeoutMilliseconds: 5000))
        let subscriber = try handshake(cluster: nil)
        subscriber.send(.subscribe(topic: ByteBuffer(string: "t")))
        good.send(.reply(id: 0, outcome: .success(ByteBuffer(string: "pong")))) // orders the SUBSCRIBE before the events
        XCTAssertEqual(try good.readPacket(), .reply(id: 1, result: .success(ByteBuffer(string: "pong"))))
        for holder in holders { holder.send(bytes: [UInt8](repeating: 0x61, count: 100 * 1024)) }
        for _ in holders {
            guard case .publish(_, let event) = try subscriber.readPacket(timeout: 10) else { return XCTFail("no event") }
            XCTAssertEqual(event.readableBytes, 500 * 1024)
        }
        let statistics = try await server.statistics()
        XCTAssertEqual(statistics.inputBudgetRefusals, 1)
        XCTAssertLessThanOrEqual(statistics.peakBufferedInputBytes, Self.budget + 400 * 1024)
    }
}
