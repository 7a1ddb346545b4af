import NIOCore
import NIOHTTP1

/// One HTTP connection: collects a request (head, bounded body, end), asks the responder, writes
/// the reply, and keeps the connection open only if the client asked for keep-alive.
///
/// NIOHTTP1 parses (its header limit is 80 KiB); `configureHTTPServerPipeline` orders pipelined
/// requests and answers parse errors with 400 before closing. This handler adds the body bound:
/// a request body over `HTTPEndpointLimits.maximumRequestBodyBytes` gets 413 and the
/// connection is closed. Before a route is answered, `HTTPAccess` decides whether the request may
/// see it (401, or the dashboard's token redirect, otherwise).
final class HTTPRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: HTTPResponder
    private let limits: HTTPEndpointLimits
    private let access: HTTPAccess
    private var head: HTTPRequestHead?
    private var bodyBytes = 0
    private var refused = false

    init(responder: HTTPResponder, limits: HTTPEndpointLimits, access: HTTPAccess) {
        self.responder = responder
        self.limits = limits
        self.access = access
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            bodyBytes = 0
            refused = false
        case .body(let chunk):
            bodyBytes += chunk.readableBytes
            if bodyBytes > limits.maximumRequestBodyBytes, !refused {
                refused = true
                let reply = HTTPReply.jsonMessage(.payloadTooLarge,
                                                  "request body over \(limits.maximumRequestBodyBytes) bytes; the endpoint is read-only")
                write(reply, isHead: false, keepAlive: false, context: context)
            }
        case .end:
            guard let requestHead = head, !refused else { return }
            head = nil
            let route = HTTPRoute.of(method: requestHead.method, target: requestHead.uri)
            let isHead = requestHead.method == .HEAD
            let keepAlive = requestHead.isKeepAlive
            switch access.decide(route: route, target: requestHead.uri, headers: requestHead.headers) {
            case .allow: break
            case .deny(let reply), .redirect(let reply):
                write(reply, isHead: isHead, keepAlive: keepAlive, context: context)
                return
            }
            let responder = self.responder
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.makeFutureWithTask { await responder.reply(to: route) }.whenSuccess { reply in
                let (handler, context) = bound.value
                handler.write(reply, isHead: isHead, keepAlive: keepAlive, context: context)
            }
        }
    }

    private func write(_ reply: HTTPReply, isHead: Bool, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: reply.contentType)
        headers.add(name: "Content-Length", value: "\(reply.body.count)")
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        if reply.contentType == HTTPReply.html {
            // The dashboard loads nothing from elsewhere; say so to the browser too.
            headers.add(name: "Content-Security-Policy",
                        value: "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
        }
        for (name, value) in reply.extraHeaders.sorted(by: { $0.key < $1.key }) { headers.add(name: name, value: value) }
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let head = HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !isHead, !reply.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: reply.body)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
