import Logging
import NIOCore
import NIOPosix
import PlexusCrypto
import PlexusMembership
import PlexusNoise
import PlexusPeerWire
import PlexusSession

/// Persistent Noise sessions to other relays: at most one link per relay pair, opened on demand
/// by the first `send`, reused for every later frame, so frames from this relay to one peer
/// arrive in the order they were sent.
///
/// Loop-bound: every method must be called on `eventLoop` (give it the relay core's loop and no
/// message crosses threads). Sessions run on the same loop.
///
/// * **Simultaneous dials**: when both relays dial each other, the session dialed by the relay
///   with the smaller node ID is kept; the other side closes the one it dialed (after writing
///   what it already queued on it). Frames queued before any session was established move to
///   the winning session.
/// * **Failure**: a dial that fails, a handshake that fails (e.g. another network key) or an
///   established link that closes removes the link and calls `onPeerFailed(peer)` at once, so
///   pending work on that peer fails fast. Frames queued for it are dropped. The next `send`
///   dials again.
/// * **Bound**: per peer, bytes queued (waiting for the session or written but not yet taken by
///   the socket) never exceed `outboundLimitBytes`, except that an empty queue always takes one
///   frame (so a frame larger than the bound can still be sent); beyond it `send` returns `.overflow`.
public final class PeerLinks {
    public let eventLoop: EventLoop
    public let configuration: PeerLinksConfiguration
    public let localID: NodeID
    /// The port of the stand-alone listener (0 when the links do not listen themselves).
    public internal(set) var port = 0
    public internal(set) var counters = PeerLinkCounters()
    /// Each decoded frame, in order per peer.
    public var onFrame: ((NodeID, PeerFrame) -> Void)?
    /// Every frame of one received session frame (a batch) was handed to `onFrame`: the place
    /// for work that needs doing once per batch rather than once per frame (flushes, timers).
    public var onBatchEnd: ((_ peer: NodeID) -> Void)?
    /// The link to this peer failed (dial, handshake or established session); `established` says
    /// whether a session had been established (frames may have reached the peer) or the dial
    /// itself failed (nothing sent on this link reached it).
    public var onPeerFailed: ((_ peer: NodeID, _ established: Bool) -> Void)?
    /// `bytes` (encoded frame bytes, as `PeerFrame.encodedSize` counts them) of frames queued for
    /// `peer` were taken by its socket. Not called for frames dropped with a failed link.
    public var onWritten: ((_ peer: NodeID, _ bytes: Int) -> Void)?
    /// Something authenticated just arrived from `peer`: a session was established, or a session
    /// frame (one batch) was received. Proof the peer is alive now; never called for a session
    /// that is merely open.
    public var onActivity: ((_ peer: NodeID) -> Void)?

    final class Link {
        /// The peer's traffic counters (kept across links, so totals never go back).
        let traffic: PeerTrafficTable.Cell
        init(traffic: PeerTrafficTable.Cell) { self.traffic = traffic }
        /// The established session carrying our frames.
        var channel: Channel?
        /// Our dial, not yet established (set once its channel exists).
        var dial: Channel?
        /// True from `openLink` until our dial is established, abandoned or failed (the dial's
        /// channel may not exist yet while the address is being resolved).
        var dialing = false
        /// Sealed batches waiting for the session, with the frame bytes each holds.
        var pending: [(batch: ByteBuffer, frameBytes: Int)] = []
        /// Frames of this tick not yet sealed into a batch.
        var batch = ByteBuffer()
        var batchFrameBytes = 0
        var queuedBytes = 0
        var flushScheduled = false
        /// Where our dials go, and the cipher the current one proposes (for the fallback).
        var address: (host: String, port: Int) = ("", 0)
        var dialCipher: NoiseCipher = .chaChaPoly
        /// The cipher of the established session (`channel`), for the status.
        var cipher: NoiseCipher?
    }

    var links: [NodeID: Link] = [:]
    /// Bytes and frames per peer, bounded in peers (`PeerTrafficTable`).
    let traffic = PeerTrafficTable()
    var server: Channel?
    /// Bounds the stand-alone session listener's unauthenticated connections and backs off
    /// accepting at the file-descriptor limit (issue 10, defect 3). Unused when the sessions
    /// arrive through the shared peer port (whose admission the overlay runs).
    let admission: AdmissionController
    private(set) var closed = false
    private let decoder = PeerFrameDecoder()
    /// Peers whose relay refused our proposed cipher (closed our dial before the session was
    /// established): dialed with ChaChaPoly for `PeerCipherFallback.retryAfterNanoseconds`.
    var refusedProposal = CipherFallbackMemory(capacity: PeerCipherFallback.maximumPeers,
                                               retryAfter: PeerCipherFallback.retryAfterNanoseconds)

    private init(configuration: PeerLinksConfiguration, eventLoop: EventLoop) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.localID = configuration.identity.nodeID
        self.admission = AdmissionController(eventLoop: eventLoop, limits: configuration.admissionLimits,
                                             logger: configuration.logger)
    }

    /// Admission counters of the stand-alone session listener (refusals, handshake timeouts,
    /// accept backoffs). Empty for a relay: the shared peer port's admission is the overlay's.
    public var admissionEvents: [AdmissionEvent: Int] { admissionCounts }
    var admissionCounts: [AdmissionEvent: Int] = [:]

    /// Creates the loop-bound links on `loop`. With `listen` (tests and tools) they also bind
    /// their own session listener on `configuration.host:port` (`PeerLinks+Listener.swift`); a
    /// relay passes `listen: false` and receives its inbound sessions from the shared peer port
    /// through `acceptor(_:)`.
    public static func start(configuration: PeerLinksConfiguration, on loop: EventLoop,
                             listen: Bool = true) async throws -> NIOLoopBound<PeerLinks> {
        let bound = try await loop.submit {
            let links = PeerLinks(configuration: configuration, eventLoop: loop)
            let bound = NIOLoopBound(links, eventLoop: loop)
            links.admission.observer = { event in bound.value.admissionCounts[event, default: 0] += 1 }
            return bound
        }.get()
        if listen { try await bindListener(bound, configuration: configuration) }
        return bound
    }

    /// Inbound sessions from the shared peer port: after the 'S' preface, the accepted channel
    /// (on this links' loop) gets a responder session whose establishment adopts it as a link.
    public static func acceptor(_ bound: NIOLoopBound<PeerLinks>) -> PeerPortSessionAcceptor {
        PeerPortSessionAcceptor(eventLoop: bound.eventLoop) { _ in try bound.value.inboundPipeline() }
    }

    /// The handlers of one accepted messaging session, behind its preface. Call on `eventLoop`.
    func inboundPipeline() throws -> PeerPortPipeline {
        eventLoop.preconditionInEventLoop()
        let session = try NoiseSessionHandler(configuration: configuration.sessionConfiguration(role: .responder))
        return PeerPortPipeline(session: session, application: [PeerSessionChannelHandler(links: self, expected: nil)])
    }

    // MARK: Sending

    /// Sends one frame to `peer` (reachable at `host:port`), dialing if there is no link.
    ///
    /// Frames are appended to the link's current batch (`PeerFrameBatch`); the batch is sealed
    /// and written when it reaches `batchBytes` and at the end of the event-loop tick, when the
    /// session is flushed: one encryption and one syscall for many small frames.
    @discardableResult
    public func send(_ frame: PeerFrame, encodedSize: Int? = nil, to peer: NodeID, host: String,
                     port: Int) -> PeerSendResult {
        eventLoop.preconditionInEventLoop()
        guard !closed, peer != localID else { return .overflow }
        let size = encodedSize ?? frame.encodedSize
        let link = links[peer] ?? openLink(to: peer, host: host, port: port)
        guard link.queuedBytes == 0 || link.queuedBytes + size <= configuration.outboundLimitBytes else {
            counters.framesOverflowed += 1
            return .overflow
        }
        link.queuedBytes += size
        counters.framesSent += 1
        link.traffic.traffic.framesSent += 1
        PeerFrameBatch.append(frame, encodedSize: size, to: &link.batch)
        link.batchFrameBytes += size
        if link.batch.readableBytes >= Self.batchBytes { seal(link, peer: peer) }
        scheduleFlush(link, peer: peer)
        return .queued
    }

    /// A batch is sealed (encrypted as one session frame) once it holds this many bytes.
    static let batchBytes = 60 * 1024

    /// Sends one frame on the existing link to `peer` (no dial): `.overflow` if there is none.
    @discardableResult
    public func sendIfLinked(_ frame: PeerFrame, encodedSize: Int? = nil, to peer: NodeID) -> PeerSendResult {
        guard let link = links[peer], link.channel != nil || link.dialing else { return .overflow }
        return send(frame, encodedSize: encodedSize, to: peer, host: "", port: 0)
    }

    /// Relays with an established session.
    public var linkedPeers: [NodeID] { links.compactMap { $0.value.channel == nil ? nil : $0.key } }

    /// Whether an established session to `peer` exists.
    public func isLinked(to peer: NodeID) -> Bool { links[peer]?.channel != nil }

    /// Bytes queued for `peer` (pending or not yet taken by its socket).
    public func queuedBytes(to peer: NodeID) -> Int { links[peer]?.queuedBytes ?? 0 }

    /// Closes the link to `peer` (if any) without reporting a failure.
    public func closeLink(to peer: NodeID) {
        guard let link = links.removeValue(forKey: peer) else { return }
        link.channel.map(retire)
        link.dial.map(retire)
    }

    /// Closes the listener and every session. No failure is reported after this.
    public func shutdown() -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        closed = true
        for peer in Array(links.keys) { closeLink(to: peer) }
        guard let server else { return eventLoop.makeSucceededVoidFuture() }
        self.server = nil
        return server.close()
    }

    private func openLink(to peer: NodeID, host: String, port: Int) -> Link {
        let link = Link(traffic: traffic.cell(for: peer))
        link.dialing = true
        link.address = (host, port)
        links[peer] = link
        dial(link, to: peer, cipher: proposal(for: peer))
        return link
    }

    /// Dials `link.address` proposing `cipher`.
    func dial(_ link: Link, to peer: NodeID, cipher: NoiseCipher) {
        let (host, port) = link.address
        link.dialCipher = cipher
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let boundLink = NIOLoopBound(link, eventLoop: eventLoop)
        var initiator = configuration.sessionConfiguration(role: .initiator)
        initiator.proposedCipher = cipher
        ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    // The peer port serves membership streams too: say this is a messaging session.
                    try sync.addHandler(PeerPortPrefaceWriter(.messagingSession))
                    try sync.addHandler(NoiseSessionHandler(configuration: initiator))
                    try sync.addHandler(PeerSessionChannelHandler(links: bound.value, expected: peer))
                    bound.value.dialStarted(channel, to: peer, link: boundLink.value)
                }
            }
            .connect(host: host, port: port)
            .assumeIsolated()
            .whenFailure { _ in
                        bound.value.dialFailed(to: peer, link: link)
            }
    }

    private func dialStarted(_ channel: Channel, to peer: NodeID, link: Link) {
        if links[peer] === link, link.channel == nil, !closed {
            link.dial = channel
        } else {
            channel.close(promise: nil)
        }
    }

    private func dialFailed(to peer: NodeID, link: Link) {
        guard links[peer] === link, link.channel == nil else { return }
        fail(peer)
    }

    /// Moves the current batch to the session (or to `pending` while there is none).
    private func seal(_ link: Link, peer: NodeID) {
        guard link.batchFrameBytes > 0 else { return }
        let batch = link.batch
        let frameBytes = link.batchFrameBytes
        link.batch = ByteBufferAllocator().buffer(capacity: 1024)
        link.batchFrameBytes = 0
        link.traffic.traffic.bytesSent += batch.readableBytes
        if let channel = link.channel {
            write(batch, frameBytes: frameBytes, on: channel, link: link, peer: peer)
        } else {
            link.pending.append((batch, frameBytes))
        }
    }

    /// At the end of this event-loop tick: seal the batch and flush the session once.
    private func scheduleFlush(_ link: Link, peer: NodeID) {
        guard !link.flushScheduled else { return }
        link.flushScheduled = true
        eventLoop.assumeIsolated().execute { [weak self] in
            link.flushScheduled = false
            guard let self, self.links[peer] === link else { return }
            self.seal(link, peer: peer)
            link.channel?.flush()
        }
    }

    private func write(_ batch: ByteBuffer, frameBytes: Int, on channel: Channel, link: Link, peer: NodeID) {
        let promise = eventLoop.makePromise(of: Void.self)
        channel.write(batch, promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { [weak self] result in
            link.queuedBytes -= frameBytes
            guard case .success = result, let self, self.links[peer] === link else { return }
            self.onWritten?(peer, frameBytes)
        }
    }

    /// Flushes what was written on `channel` and closes it (a losing duplicate or a closed link).
    /// Callers update the link first: the close may call `channelClosed` synchronously.
    private func retire(_ channel: Channel) {
        channel.flush()
        channel.close(promise: nil)
    }

    private func fail(_ peer: NodeID) {
        guard let link = links.removeValue(forKey: peer) else { return }
        counters.sessionsFailed += 1
        let established = link.channel != nil
        link.channel.map(retire)
        link.dial.map(retire)
        if !closed { onPeerFailed?(peer, established) }
    }

    // MARK: Events from sessions

    func established(_ channel: Channel, peer: NodeID, dialedByUs: Bool, cipher: NoiseCipher) {
        guard !closed else {
            channel.close(promise: nil)
            return
        }
        counters.sessionsEstablished += 1
        onActivity?(peer)
        let link: Link
        if let existing = links[peer] {
            link = existing
        } else {
            link = Link(traffic: traffic.cell(for: peer))
            links[peer] = link
        }
        let state: SessionTieBreak.LinkState = if let current = link.channel {
            .established(isSameSession: current === channel)
        } else if link.dialing, !dialedByUs {
            .dialing
        } else {
            .idle
        }
        switch SessionTieBreak.decide(local: localID, peer: peer, dialedByUs: dialedByUs, link: state) {
        case .ignore, .awaitOwnDial:
            return
        case .replaceCurrent:
            counters.duplicatesClosed += 1
            let current = link.channel
            link.channel = channel
            link.cipher = cipher
            current.map(retire)
        case .retireNew:
            counters.duplicatesClosed += 1
            retire(channel)
        case .readUntilPeerCloses:
            counters.duplicatesClosed += 1
        case .adoptAndAbandonOwnDial:
            counters.duplicatesClosed += 1
            link.dialing = false
            let dial = link.dial // not created yet: `dialStarted` closes it
            link.dial = nil
            // Adopt before closing: closing may report the dial's end synchronously, and it must
            // not look like the link's failure.
            adopt(channel, link: link, peer: peer, cipher: cipher)
            dial.map(retire)
        case .adopt:
            if dialedByUs {
                if link.dial === channel { link.dial = nil }
                link.dialing = false
            }
            adopt(channel, link: link, peer: peer, cipher: cipher)
        }
    }

    private func adopt(_ channel: Channel, link: Link, peer: NodeID, cipher: NoiseCipher) {
        link.channel = channel
        link.cipher = cipher
        let pending = link.pending
        link.pending = []
        for entry in pending { write(entry.batch, frameBytes: entry.frameBytes, on: channel, link: link, peer: peer) }
        scheduleFlush(link, peer: peer)
    }

    /// One session frame: a batch of peer frames, handed out in order. A malformed batch closes
    /// the session (frames before the bad one were delivered).
    func received(_ bytes: ByteBuffer, from peer: NodeID, channel: Channel) {
        onActivity?(peer)
        let cell = traffic.cell(for: peer)
        cell.traffic.bytesReceived += bytes.readableBytes
        defer { onBatchEnd?(peer) }
        do {
            try PeerFrameBatch.forEachFrame(in: bytes, decoder: decoder) { frame in
                counters.framesReceived += 1
                cell.traffic.framesReceived += 1
                onFrame?(peer, frame)
            }
        } catch {
            counters.framesMalformed += 1
            channel.close(promise: nil)
        }
    }

    /// A session (dialed by us: initiator) reported `error`; handshake failures are counted by reason.
    func sessionError(_ error: Error, dialedByUs: Bool) {
        counters.handshakeFailures.count(error, role: dialedByUs ? .initiator : .responder)
    }

    /// `closedBeforeAnswer`: our dial's message 1 got no answer (the cipher fallback's cue).
    func channelClosed(_ channel: Channel, peer: NodeID?, closedBeforeAnswer: Bool = false) {
        guard let peer, let link = links[peer] else { return }
        if closedBeforeAnswer, link.channel == nil, link.dial === channel, fallBack(link, peer: peer) { return }
        if link.channel === channel || (link.channel == nil && link.dial === channel) {
            fail(peer)
        }
    }
}

extension PeerLinksConfiguration {
    func sessionConfiguration(role: NoiseRole) -> SessionConfiguration {
        var session = SessionConfiguration(role: role, identity: identity, keyring: keyring, advertisedAddresses: [],
                                           handshakeTimeout: handshakeTimeout, logger: logger)
        session.proposedCipher = proposedCipher
        session.acceptedCiphers = acceptedCiphers
        return session
    }
}
