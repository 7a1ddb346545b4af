import NIOCore
import NIOPosix

/// A loopback TCP proxy for tests that drains slowly: each side reads at most `chunk` bytes, then
/// waits until the write to the other side completed and `interval` passed before it reads again,
/// so a sender faster than chunk/interval fills its own queues (TCP back-pressure; the proxy
/// buffers at most one chunk per direction).
final class ThrottledProxy: Sendable {
    let channel: Channel
    var port: Int { channel.localAddress?.port ?? 0 }

    private init(channel: Channel) { self.channel = channel }

    static func start(to targetPort: Int, chunk: Int, interval: TimeAmount, group: EventLoopGroup) async throws -> ThrottledProxy {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(chunk))
            .childChannelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: chunk))
            .childChannelInitializer { inbound in
                let connected = ClientBootstrap(group: inbound.eventLoop)
                    .channelOption(.autoRead, value: false)
                    .channelOption(.maxMessagesPerRead, value: 1)
                    .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: chunk))
                    .channelInitializer { outbound in
                        outbound.eventLoop.makeCompletedFuture {
                            try outbound.pipeline.syncOperations.addHandler(
                                Relay(interval: interval, partner: outbound.eventLoop.makeSucceededFuture(inbound)))
                        }
                    }
                    .connect(host: "127.0.0.1", port: targetPort)
                connected.whenSuccess { outbound in
                    inbound.read()
                    outbound.read()
                }
                connected.whenFailure { _ in inbound.close(promise: nil) }
                return inbound.eventLoop.makeCompletedFuture {
                    try inbound.pipeline.syncOperations.addHandler(Relay(interval: interval, partner: connected))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return ThrottledProxy(channel: server)
    }

    func stop() async { try? await channel.close() }

    /// One direction: forwards what it read to the partner, then reads again `interval` after the write completed.
    private final class Relay: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let interval: TimeAmount
        let partner: EventLoopFuture<Channel>

        init(interval: TimeAmount, partner: EventLoopFuture<Channel>) {
            self.interval = interval
            self.partner = partner
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            let interval = self.interval
            let channel = context.channel
            partner.flatMap { $0.writeAndFlush(bytes) }.whenComplete { _ in
                channel.eventLoop.scheduleTask(in: interval) { channel.read() }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            partner.whenSuccess { $0.close(promise: nil) }
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            context.close(promise: nil)
        }
    }
}
