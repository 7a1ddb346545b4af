// `plexus-delay-proxy LISTEN_HOST:PORT TARGET_HOST:PORT DELAY_MS`: the fault bed's userspace
// TCP delay proxy (the kernel here has no netem). Every byte read on one side is written to the
// other side DELAY_MS later, in order, in both directions; a close on one side closes the other
// after the same delay. Used between "clouds" by the federation fault tests
// (`Tests/PlexusFaultTests/FederationFaultTests.swift`), which run it inside a namespace.
// Not a product: no flow control (the tests move little data), one event loop.
import Foundation
import NIOCore
import NIOPosix

func parse(_ text: String) -> (String, Int)? {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
    return (String(text[..<colon]), port)
}

let arguments = CommandLine.arguments
guard arguments.count == 4, let listen = parse(arguments[1]), let target = parse(arguments[2]), let delayMS = Int64(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: plexus-delay-proxy LISTEN_HOST:PORT TARGET_HOST:PORT DELAY_MS\n".utf8))
    exit(2)
}
let delay = TimeAmount.milliseconds(delayMS)
// SIGTERM ends the proxy at once (the default action is blocked while NIO waits).
signal(SIGTERM) { _ in _exit(0) }

/// Forwards what it reads to `partner`, `delay` later; closes the partner (after the delay) when it ends.
final class DelayedForwarder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var partner: Channel?
    /// Reads that arrived before the partner was connected.
    var early: [ByteBuffer] = []

    func attach(_ channel: Channel) {
        partner = channel
        for buffer in early { forward(buffer, on: channel) }
        early = []
    }

    private func forward(_ buffer: ByteBuffer, on channel: Channel) {
        channel.eventLoop.scheduleTask(in: delay) { channel.writeAndFlush(buffer, promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if let partner { forward(buffer, on: partner) } else { early.append(buffer) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let partner { partner.eventLoop.scheduleTask(in: delay) { partner.close(promise: nil) } }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}

let loop = MultiThreadedEventLoopGroup.singleton.next()
let server = try ServerBootstrap(group: loop)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { inbound in
        inbound.eventLoop.makeCompletedFuture {
            let toTarget = DelayedForwarder()
            try inbound.pipeline.syncOperations.addHandler(toTarget)
            let loopBoundForwarder = NIOLoopBound(toTarget, eventLoop: inbound.eventLoop)
            ClientBootstrap(group: inbound.eventLoop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { outbound in
                    outbound.eventLoop.makeCompletedFuture {
                        let back = DelayedForwarder()
                        back.partner = inbound
                        try outbound.pipeline.syncOperations.addHandler(back)
                    }
                }
                .connect(host: target.0, port: target.1)
                .whenComplete { result in
                    switch result {
                    case .success(let outbound): loopBoundForwarder.value.attach(outbound)
                    case .failure: inbound.close(promise: nil)
                    }
                }
        }
    }
    .bind(host: listen.0, port: listen.1).wait()
// Written unbuffered: the fault bed waits for this line in the output file.
FileHandle.standardOutput.write(Data("plexus-delay-proxy \(arguments[1]) -> \(arguments[2]), \(delayMS) ms each way\n".utf8))
try server.closeFuture.wait()
