import Foundation
import NIOCore
import PlexusTestSupport
import PlexusRelay
import PlexusWire
import XCTest

/// Many clients at once, in the spirit of the reference suite's TestRequest and TestTunnel.
final class LoopbackConcurrencyTests: LoopbackTestCase {
    /// An echo service on its own thread: answers requests, accepts tunnels and echoes each
    /// (single-chunk) message, until the relay answers its CLOSE.
    private static func runEchoService(_ service: RawClient) throws {
        var nextTunnelID: UInt64 = 100
        while true {
            switch try service.readPacket(timeout: 20) {
            case .request(let id, let payload, _):
                service.send(.reply(id: id, outcome: .success(payload)))
            case .tunnelOffer(let buildID, _):
                service.send(.tunnelConfirm(buildID: buildID, tunnelID: nextTunnelID),
                             .tunnelAllow(id: nextTunnelID, allowance: 64 << 20))
                nextTunnelID += 1
            case .tunnelTransfer(let id, let size, let chunk):
                service.send(.tunnelTransfer(id: id, sizeOrContinuation: size, chunk: chunk),
                             .tunnelAllow(id: id, allowance: UInt64(chunk.readableBytes)))
            case .close:
                return
            case .tunnelAllow, .tunnelClose, .broadcast, .publish:
                continue
            case let other:
                throw TestTimeout(description: "service got \(other)")
            }
        }
    }

    private static func runClient(_ client: RawClient, index: Int) throws {
        for r in 0..<20 {
            let payload = ByteBuffer(string: "client #\(index), request \(r)")
            client.send(.request(id: UInt64(r), cluster: ByteBuffer(string: "echo"), payload: payload, timeoutMilliseconds: 5000))
            guard case .reply(UInt64(r), .success(payload)) = try client.readPacket(timeout: 10) else {
                throw TestTimeout(description: "bad reply to request \(r) of client \(index)")
            }
        }
        client.send(.tunnelInit(id: 7, cluster: ByteBuffer(string: "echo"), timeoutMilliseconds: 5000))
        guard case .tunnelResult(7, 65536) = try client.readPacket(timeout: 10),
              case .tunnelAllow(7, 4 << 20) = try client.readPacket(timeout: 10) else {
            throw TestTimeout(description: "tunnel of client \(index) not built")
        }
        client.send(.tunnelAllow(id: 7, allowance: 64 << 20))
        var echoed = 0
        for m in 0..<10 {
            let message = ByteBuffer(string: "client #\(index), tunnel message #\(m)")
            client.send(.tunnelTransfer(id: 7, sizeOrContinuation: UInt64(message.readableBytes), chunk: message))
            while echoed <= m {
                switch try client.readPacket(timeout: 10) {
                case .tunnelTransfer(7, _, let chunk):
                    guard chunk == message else { throw TestTimeout(description: "client \(index): echo out of order") }
                    echoed += 1
                case .tunnelAllow(7, _):
                    continue
                case let other:
                    throw TestTimeout(description: "client \(index) got \(other)")
                }
            }
        }
        client.send(.tunnelClose(id: 7))
        while true {
            switch try client.readPacket(timeout: 10) {
            case .tunnelClose(7, let reason) where reason.readableBytes == 0:
                client.send(.close)
                guard try client.readPacket(timeout: 10) == .close(reason: ByteBuffer()) else {
                    throw TestTimeout(description: "client \(index): no CLOSE answer")
                }
                return
            case .tunnelAllow(7, _):
                continue
            case let other:
                throw TestTimeout(description: "client \(index) got \(other) while closing")
            }
        }
    }

    func testRequestsAndTunnelsFromManyClientsAtOnce() throws {
        let services = try (0..<5).map { _ in try handshake(cluster: "echo") }
        let clients = try (0..<10).map { i in try handshake(cluster: i % 2 == 0 ? nil : "other") }
        let failures = Failures()
        let group = DispatchGroup()
        for service in services {
            group.enter()
            Thread.detachNewThread {
                do { try Self.runEchoService(service) } catch { failures.add("\(error)") }
                group.leave()
            }
        }
        let clientsDone = DispatchGroup()
        for (index, client) in clients.enumerated() {
            clientsDone.enter()
            Thread.detachNewThread { // a thread each: they block on reads
                do { try Self.runClient(client, index: index) } catch { failures.add("\(error)") }
                clientsDone.leave()
            }
        }
        XCTAssertEqual(clientsDone.wait(timeout: .now() + 60), .success)
        for service in services { service.send(.close) }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(failures.all, [])
    }
}

/// Failure texts collected from worker threads; every access holds `lock`, so the class is safe
/// to share (hence the justified `@unchecked Sendable`).
final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var texts: [String] = []
    func add(_ text: String) { lock.lock(); texts.append(text); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return texts }
}
