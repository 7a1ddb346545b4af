import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Plexus
import PlexusWire
import XCTest

/// A scripted stand-in for the relay: a NIO server on 127.0.0.1, port 0, that decodes
/// `ClientPacket`s, records them, answers INIT (accept or DENY) and CLOSE itself, and hands
/// every other packet to the test's script.
final class FakeRelay: Sendable {
    struct Peer: Sendable {
        let channel: any Channel
        func send(_ packets: RelayPacket...) {
            var buffer = channel.allocator.buffer(capacity: 64)
            for packet in packets { buffer.writeRelayPacket(packet) }
            channel.writeAndFlush(buffer, promise: nil)
        }
        func close() { channel.close(promise: nil) }
    }

    typealias Script = @Sendable (ClientPacket, Peer) -> Void

    private let server: any Channel
    private let recorded: NIOLockedValueBox<[ClientPacket]>
    private let peers: NIOLockedValueBox<[Peer]>
    var port: Int { server.localAddress!.port! }

    /// `deny`: answer INIT with DENY(reason). `firstPacket`: answer INIT with this instead.
    /// `port`: 0 for a free one, or a fixed one (a relay "restarted" on the same port).
    init(port: Int = 0, deny: String? = nil, firstPacket: RelayPacket? = nil, answerClose: Bool = true,
         script: @escaping Script = { _, _ in }) async throws {
        let recorded = NIOLockedValueBox<[ClientPacket]>([])
        let peers = NIOLockedValueBox<[Peer]>([])
        self.recorded = recorded
        self.peers = peers
        server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let peer = Peer(channel: channel)
                    peers.withLockedValue { $0.append(peer) }
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(ClientPacketDecoder()),
                        Handler(peer: peer, recorded: recorded, deny: deny, firstPacket: firstPacket, answerClose: answerClose, script: script),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ClientPacket
        let peer: Peer
        let recorded: NIOLockedValueBox<[ClientPacket]>
        let deny: String?
        let firstPacket: RelayPacket?
        let answerClose: Bool
        let script: Script

        init(peer: Peer, recorded: NIOLockedValueBox<[ClientPacket]>, deny: String?, firstPacket: RelayPacket?, answerClose: Bool, script: @escaping Script) {
            self.peer = peer
            self.recorded = recorded
            self.deny = deny
            self.firstPacket = firstPacket
            self.answerClose = answerClose
            self.script = script
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let packet = unwrapInboundIn(data)
            recorded.withLockedValue { $0.append(packet) }
            switch packet {
            case .initiate:
                if let deny {
                    peer.send(.deny(reason: ByteBuffer(string: deny)))
                    peer.close()
                } else if let firstPacket {
                    peer.send(firstPacket)
                } else {
                    peer.send(.accept(version: ByteBuffer(string: WireConstants.protocolVersion)))
                }
            case .close where answerClose:
                peer.send(.close(reason: ByteBuffer()))
                peer.close()
            default:
                script(packet, peer)
            }
        }
    }

    var packets: [ClientPacket] { recorded.withLockedValue { $0 } }
    /// The server side of the most recent connection.
    var lastPeer: Peer? { peers.withLockedValue { $0.last } }

    func shutdown() async throws {
        for peer in peers.withLockedValue({ $0 }) { peer.close() }
        try await server.close()
    }

    /// Waits (polling every 2 ms, at most `within`) until `condition` holds on the recorded packets.
    func waitUntil(within: Duration = .seconds(5), file: StaticString = #filePath, line: UInt = #line,
                   _ condition: @escaping @Sendable ([ClientPacket]) -> Bool) async {
        if await poll(within: within, { condition(self.packets) }) { return }
        XCTFail("condition on recorded packets not met within \(within); got \(packets)", file: file, line: line)
    }
}

/// Polls `condition` every 2 ms until it holds or `within` passes; returns whether it held.
func poll(within: Duration, _ condition: @Sendable () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + within
    while clock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(2))
    }
    return condition()
}

extension ByteBuffer {
    init(_ text: String) { self.init(string: text) }
}

/// Asserts that `body` throws exactly `expected`.
func assertThrows<T>(_ expected: PlexusError, file: StaticString = #filePath, line: UInt = #line,
                     _ body: () async throws -> T) async {
    do {
        _ = try await body()
        XCTFail("expected \(expected), got a result", file: file, line: line)
    } catch let error as PlexusError {
        XCTAssertEqual(error, expected, file: file, line: line)
    } catch {
        XCTFail("expected \(expected), got \(error)", file: file, line: line)
    }
}
