import Logging
import NIOCore
import PlexusFederation
import PlexusPeerWire
import PlexusSession
import PlexusVocabulary

/// The gateway's state on its one event loop: the pure `GatewayRouter`, the channel of every
/// link, and the tickets that tie router requests to the relay. Not thread-safe by design: every
/// method runs on `eventLoop` (`GatewayEndpoint` wraps it in `NIOLoopBound`).
final class GatewayDriver {
    let eventLoop: EventLoop
    let hooks: GatewayHooks
    let logger: Logger
    let maxLinks: Int
    var router: GatewayRouter
    var channels: [GatewayLinkID: Channel] = [:]
    var nextLink: UInt64 = 1
    /// Requests from other overlays delivered to the relay: our ticket → (link, their id).
    var inbound: [UInt64: (link: GatewayLinkID, requestID: UInt64)] = [:]
    var nextInboundTicket: UInt64 = 1
    /// Frames refused because a link's queue was full (also per link in `router.status`).
    var overloaded = 0
    /// Connections that ended before the Noise handshake authenticated them (wrong federation
    /// key, not a gateway, timeout).
    var unauthenticatedClosed = 0
    var closed = false
    /// Bounds unauthenticated connections on the gateway port (per source and in total) and
    /// closes those that do not authenticate in time, as on the peer port.
    let admission: AdmissionController
    private var ticker: RepeatedTask?

    init(eventLoop: EventLoop, router: GatewayRouter, hooks: GatewayHooks, maxLinks: Int, logger: Logger) {
        self.eventLoop = eventLoop
        self.router = router
        self.hooks = hooks
        self.maxLinks = maxLinks
        self.logger = logger
        admission = AdmissionController(eventLoop: eventLoop, logger: logger)
    }

    func startTicking() {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        ticker = eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(20), delay: .milliseconds(20)) { _ in
            bound.value.perform(bound.value.router.tick(now: .now()))
        }
    }

    // MARK: Links

    /// A session was established on `channel`; returns its link id, or nil if refused (too many).
    func established(_ channel: Channel) -> GatewayLinkID? {
        guard !closed, channels.count < maxLinks else {
            logger.warning("gateway link refused: \(channels.count) links already (the limit)")
            channel.close(promise: nil)
            return nil
        }
        let link = GatewayLinkID(nextLink)
        nextLink += 1
        channels[link] = channel
        perform(router.linkOpened(link, now: .now()))
        return link
    }

    func received(_ bytes: ByteBuffer, on link: GatewayLinkID) {
        do {
            let frame = try GatewayFrameDecoder().decode(bytes)
            perform(router.receive(frame, on: link, now: .now()))
        } catch {
            logger.warning("gateway \(link): malformed frame, closing the link: \(error)")
            channels[link]?.close(promise: nil)
        }
    }

    func linkClosed(_ link: GatewayLinkID) {
        guard channels.removeValue(forKey: link) != nil else { return }
        for (ticket, entry) in inbound where entry.link == link { inbound.removeValue(forKey: ticket) }
        let overlay = router.status.first { $0.link == link }?.overlay
        logger.info("gateway \(link) to overlay \(overlay?.value ?? "?") closed")
        perform(router.linkClosed(link, now: .now()))
    }

    // MARK: From the relay

    func request(ticket: UInt64, cluster: String, payload: ByteBuffer, millisecondsLeft: UInt64) {
        let now = NIODeadline.now()
        switch router.request(cluster: cluster, payload: payload, deadline: now + .milliseconds(Int64(min(millisecondsLeft, 3_600_000))),
                              ticket: ticket, now: now) {
        case .success(let action): perform([action])
        case .failure(let refusal): hooks.requestAnswered(ticket, .failed(reason: ByteBuffer(string: refusal.reason)))
        }
    }

    func broadcast(overlay: OverlayName, cluster: String, message: ByteBuffer) {
        let handedOver = cluster.utf8.count + message.readableBytes
        performFanOut(router.broadcast(cluster: cluster, message: message, origin: .localOverlay, only: overlay), overlay: overlay,
                      handedOver: handedOver)
    }

    func publish(overlay: OverlayName, topic: String, event: ByteBuffer, publisher: NodeID) {
        let handedOver = topic.utf8.count + event.readableBytes
        performFanOut(router.publish(topic: topic, event: event, publisher: publisher, origin: .localOverlay, only: overlay),
                      overlay: overlay, handedOver: handedOver)
    }

    /// Carries out a broadcast's or event's actions and tells the relay core when the message has
    /// left this gateway (written to its link's socket, refused, or wanted by no link), so the
    /// core's count of what it handed over drops by `handedOver` (`RelayCore+FederationBackPressure`).
    private func performFanOut(_ actions: [GatewayAction], overlay: OverlayName, handedOver: Int) {
        var written: EventLoopFuture<Void>?
        for action in actions {
            guard case .send(let link, let frame) = action, let channel = channels[link] else {
                perform([action])
                continue
            }
            written = write(frame, on: link, channel: channel)
        }
        guard let written else { return hooks.drained(overlay, handedOver) }
        let hooks = self.hooks
        written.whenComplete { _ in hooks.drained(overlay, handedOver) }
    }

    /// Encodes and writes `frame`; the link's queue count drops when the socket took it.
    @discardableResult
    private func write(_ frame: GatewayFrame, on link: GatewayLinkID, channel: Channel) -> EventLoopFuture<Void> {
        let size = GatewayFrameEncoder.encodedSize(frame)
        var buffer = channel.allocator.buffer(capacity: size)
        GatewayFrameEncoder.encode(frame, into: &buffer)
        let promise = eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { [weak self] _ in self?.router.written(size, on: link) }
        channel.writeAndFlush(buffer, promise: promise)
        return promise.futureResult
    }

    func answer(ticket: UInt64, outcome: PeerReplyOutcome) {
        guard let entry = inbound.removeValue(forKey: ticket) else { return }
        perform(router.answer(link: entry.link, requestID: entry.requestID, outcome: outcome))
    }

    func localInterestChanged(clusters: Set<String>, topics: Set<String>) {
        perform(router.localInterestChanged(clusters: clusters, topics: topics))
    }

    // MARK: Actions

    func perform(_ actions: [GatewayAction]) {
        for action in actions {
            switch action {
            case .send(let link, let frame):
                guard let channel = channels[link] else { continue }
                write(frame, on: link, channel: channel)
            case .close(let link, let reason):
                logger.warning("gateway \(link): \(reason); closing the link")
                channels[link]?.close(promise: nil)
            case .complete(let ticket, let outcome):
                hooks.requestAnswered(ticket, outcome)
            case let .deliverRequest(link, requestID, cluster, left, payload):
                let ticket = nextInboundTicket
                nextInboundTicket += 1
                inbound[ticket] = (link, requestID)
                hooks.deliverRequest(ticket, cluster, payload, left)
            case let .deliverBroadcast(_, cluster, message):
                hooks.deliverBroadcast(cluster, message)
            case let .deliverEvent(_, topic, event):
                hooks.deliverEvent(topic, event)
            case .remoteInterestChanged:
                hooks.remoteInterestChanged(router.remoteInterest)
            case let .openTunnel(tunnelID, cluster, left):
                hooks.openTunnel(tunnelID, cluster, left)
            case let .tunnelToRelay(relay, frame):
                hooks.tunnelToRelay(relay, frame)
            case .overloaded(let link, let what):
                overloaded += 1
                logger.warning("gateway \(link): queue over its bound, refused \(what)")
            }
        }
    }

    func shutdown() {
        closed = true
        ticker?.cancel()
        for channel in channels.values { channel.close(promise: nil) }
    }
}
