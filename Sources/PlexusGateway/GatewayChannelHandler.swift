import NIOCore
import PlexusFederation
import PlexusSession

/// Sits after `NoiseSessionHandler` on every gateway link: on establishment it registers the
/// link with the driver, passes each authenticated frame on, and reports the end of the channel.
/// Nothing is read before the Noise handshake authenticated the peer with the federation key.
final class GatewayChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let driver: GatewayDriver
    private let onEnd: (() -> Void)?
    private var link: GatewayLinkID?

    init(driver: GatewayDriver, onEnd: (() -> Void)? = nil) {
        self.driver = driver
        self.onEnd = onEnd
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is SessionEstablished {
            link = driver.established(context.channel)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let link else { return }
        driver.received(unwrapInboundIn(data), on: link)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let link { driver.linkClosed(link) } else { driver.unauthenticatedClosed += 1 }
        link = nil
        onEnd?()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        driver.logger.info("gateway link error: \(error)")
        context.close(promise: nil)
    }
}
