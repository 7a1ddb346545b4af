import Foundation
import NIOCore
import PlexusMembership
import PlexusSession

/// Inbound sealed datagrams → the driver.
final class DatagramReceiver: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let driver: OverlayDriver

    init(driver: OverlayDriver) { self.driver = driver }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        driver.receiveDatagram(Array(envelope.data.readableBytesView), from: envelope.remoteAddress,
                               deliveredTo: envelope.metadata?.packetInfo?.destinationAddress)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP port unreachable and similar surface here; UDP keeps working.
    }

    func channelInactive(context: ChannelHandlerContext) {
        driver.datagramChannelClosed(context.channel)
        context.fireChannelInactive()
    }
}

/// Accepted Noise session: each authenticated frame is one membership packet. It may run on
/// another loop than the driver (the peer port's connections run on the relay's loop), so every
/// driver call goes through the handle, in order.
final class StreamReceiver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let driver: OverlayDriverHandle
    private var peerAddresses: [String] = []
    /// The authenticated peer (its Noise static key), once the session is established.
    private var peerNode: PlexusMembership.NodeID?

    init(driver: OverlayDriverHandle) { self.driver = driver }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        driver.run { driver in
            driver.inboundStreams += 1
            if driver.inboundStreams > OverlayDriver.maximumInboundStreams {
                driver.counters.streamsRefused += 1
                channel.close(promise: nil)
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        driver.run { $0.inboundStreams -= 1 }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let established = event as? SessionEstablished {
            peerAddresses = established.peerAddresses
            peerNode = PlexusMembership.NodeID(bytes: established.peerNodeID.bytes)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Array(unwrapInboundIn(data).readableBytesView)
        let (addresses, node) = (peerAddresses, peerNode)
        driver.run { driver in
            driver.receiveStreamFrame(frame, peerAddresses: addresses)
            // A frame on an authenticated session proves its sender is running right now.
            if let node { driver.peerIsReachable(node) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let reason = (error as? SessionError).flatMap { PeerHandshakeFailure($0, role: .responder) }
        driver.run { driver in
            driver.counters.streamFailures += 1
            if let reason { driver.counters.streamHandshakeFailures[reason] += 1 }
        }
        context.close(promise: nil)
    }
}

/// Outgoing Noise session carrying one packet, then closing.
final class StreamSender: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let driver: OverlayDriver
    private let join: Bool
    private let payload: [UInt8]
    private var done = false

    init(driver: OverlayDriver, join: Bool, payload: [UInt8]) {
        self.driver = driver
        self.join = join
        self.payload = payload
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is SessionEstablished, !done else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let bytes = join ? driver.joinPayload() : payload
        let channel = context.channel
        guard !bytes.isEmpty else { // left or closed meanwhile: nothing to send
            done = true
            channel.close(promise: nil)
            return
        }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes))).whenComplete { result in
            let sender = bound.value
            sender.done = true
            if case .failure = result { sender.driver.streamFailed(join: sender.join) }
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            driver.streamFailed(join: join)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        driver.counters.streamHandshakeFailures.count(error, role: .initiator)
        if !done {
            done = true
            driver.streamFailed(join: join)
        }
        context.close(promise: nil)
    }
}
