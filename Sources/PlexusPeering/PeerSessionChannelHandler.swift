import NIOCore
import PlexusCrypto
import PlexusMembership
import PlexusSession

/// Sits after `NoiseSessionHandler` on every peer session: reports establishment, each
/// authenticated frame and the end of the channel to the loop-bound `PeerLinks`.
final class PeerSessionChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let links: PeerLinks
    /// The node this side dialed (nil for an accepted session).
    private let expected: NodeID?
    private var peer: NodeID?
    /// Our dial's message 1 was closed on without an answer (the peer may not run our cipher).
    private var closedBeforeAnswer = false

    init(links: PeerLinks, expected: NodeID?) {
        self.links = links
        self.expected = expected
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let established = event as? SessionEstablished {
            let reached = established.peerNodeID
            if let expected, expected != reached {
                // Dialed one relay, reached another: never adopt it.
                context.close(promise: nil)
                return
            }
            peer = reached
            links.established(context.channel, peer: reached, dialedByUs: expected != nil, cipher: established.cipher)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let peer else { return }
        links.received(unwrapInboundIn(data), from: peer, channel: context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        links.channelClosed(context.channel, peer: peer ?? expected, closedBeforeAnswer: closedBeforeAnswer)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if (error as? SessionError)?.code == .peerClosedBeforeResponding { closedBeforeAnswer = true }
        links.sessionError(error, dialedByUs: expected != nil)
        context.close(promise: nil)
    }
}
