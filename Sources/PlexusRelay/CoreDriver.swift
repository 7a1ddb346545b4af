import Logging
import NIOCore
import PlexusMembership
import PlexusPeering
import PlexusPeerWire
import PlexusRelayCore
import PlexusWire

/// The thin shell around `RelayCore`: owned by the relay's core event loop and only touched
/// there (no locks, no actor hops).
///
/// Path of a message: a connection's `RelayConnectionHandler` decodes packets and calls
/// `received`; the core appends effects; `apply` encodes every `.send` into the target
/// connection's outbound buffer (and marks it dirty); at the end of a read batch
/// (`channelReadComplete`) the driver schedules ONE `flushDirty` for the end of the event-loop
/// tick, so the batches of every connection readable in this tick leave with one `writeAndFlush`
/// per target connection (32 requesters → one write to the service, not 32). The
/// write's completion reports the bytes back to the core (`written`), which is how the core knows
/// each connection's queued bytes. ONE scheduled task drives every deadline.
final class CoreDriver {
    let eventLoop: EventLoop
    let logger: Logger
    let queueLimit: Int
    /// Set only on the loop (this file and `CoreDriver+Protection`).
    var core: RelayCore
    private var handlers: [ConnectionID: RelayConnectionHandler] = [:]
    private var dirty: [ConnectionID] = []
    private var flushScheduled = false
    private var nextConnectionID: UInt64 = 0
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var shuttingDown = false
    private var drained: EventLoopPromise<Void>?
    /// See `RelayConfiguration.interestObserver`.
    var interestObserver: (@Sendable ([RelayInterestChange]) -> Void)?
    /// See `RelayConfiguration.peerActivityObserver`.
    var peerActivityObserver: (@Sendable (NodeID) -> Void)?
    /// Receives what the core hands to the federation gateway next to it (`RelayServer.setFederationOutlet`).
    var federationOutlet: (@Sendable (FederationEffect) -> Void)?
    var peerActivityInterval: TimeAmount = .milliseconds(250)
    private var lastPeerActivity: [NodeID: NIODeadline] = [:]
    /// Sessions to other relays (on this same loop); nil for a stand-alone relay.
    private(set) var peerLinks: PeerLinks?
    /// Where each other relay's session listener is, from the directory.
    private var peerAddresses: [NodeID: NodeAddress] = [:]
    /// Clients paused because a relay's queue is full (their own queue may be empty).
    private var pausedForPeers: Set<ConnectionID> = []
    private var applying = false
    private var scratch: [RelayEffect] = []
    /// Protocol violations are logged at info, at most a few per interval.
    private var violationLog = LogThrottle()
    /// Sealed payloads that did not open and frames for names without a key, logged at warning, rate-limited.
    var protectionLogThrottle = LogThrottle()
    /// Losses of broadcasts and events are logged at info once per `lossReportInterval`, in aggregate.
    private var lossReport = LossReport()
    private var lossReporter: Scheduled<Void>?
    static let lossReportInterval: TimeAmount = .seconds(10)

    init(configuration: CoreConfiguration, eventLoop: EventLoop, logger: Logger) {
        self.core = RelayCore(configuration: configuration)
        self.eventLoop = eventLoop
        self.logger = logger
        self.queueLimit = configuration.outboundQueueLimitBytes
        dirty.reserveCapacity(64)
    }

    /// Starts the periodic aggregate log of lost broadcasts and events (call once, on the loop).
    func startLossReports() {
        lossReporter = eventLoop.assumeIsolated().scheduleTask(in: Self.lossReportInterval) { [weak self] in
            guard let self, !self.shuttingDown else { return }
            let statistics = self.inspectCore { $0.statistics }
            let lost = self.lossReport.since(broadcasts: statistics.lostBroadcasts, events: statistics.lostEvents)
            if !lost.isEmpty {
                self.logger.info("messages lost in the last \(Self.lossReportInterval.nanoseconds / 1_000_000_000) s: \(lost)")
            }
            self.startLossReports()
        }
    }

    /// Reports first-hand proof that `peer` is alive, at most once per `peerActivityInterval`.
    private func peerActive(_ peer: NodeID) {
        guard let observer = peerActivityObserver else { return }
        let now = NIODeadline.now()
        if let last = lastPeerActivity[peer], now - last < peerActivityInterval { return }
        lastPeerActivity[peer] = now
        observer(peer)
    }

    var statistics: RelayStatistics {
        var statistics = inspectCore { $0.statistics }
        if let peerLinks {
            statistics.peerSessions = peerLinks.linkedPeers.count
            statistics.peerFramesSent = peerLinks.counters.framesSent
            statistics.peerFramesReceived = peerLinks.counters.framesReceived
            statistics.peerSessionFailures = peerLinks.counters.sessionsFailed
        }
        return statistics
    }

    // MARK: Other relays

    /// Takes over `links`' callbacks; every event they report is fed to the core on this loop.
    func attach(_ links: PeerLinks) {
        peerLinks = links
        // Per frame only what the frame needs; the flush and the timer once per received batch.
        links.onFrame = { [unowned self] peer, frame in
            core.receivePeer(frame, from: peer, now: .now())
            apply()
        }
        links.onBatchEnd = { [unowned self] _ in
            logProtectionIncidents()
            scheduleFlush()
            rescheduleTimer()
        }
        links.onActivity = { [unowned self] peer in
            self.peerActive(peer)
        }
        links.onWritten = { [unowned self] peer, bytes in
            core.peerWritten(peer, bytes: bytes)
            afterPeerEvent()
        }
        links.onPeerFailed = { [unowned self] peer, established in
            logger.debug("relay link failed", metadata: ["relay": "\(peer)", "established": "\(established)"])
            core.peerFailed(peer, now: .now())
            afterPeerEvent()
        }
    }

    /// Reads the core in place. A plain `core.x` read of this class's stored struct copies the
    /// whole `RelayCore` first (retaining every table in it) because the getter lives in another
    /// module; per peer frame that was ~10 % of a receiving relay's CPU (Docs/benchmarks.md).
    @inline(__always)
    private func inspectCore<T>(_ body: (inout RelayCore) -> T) -> T {
        body(&core)
    }

    func afterPeerEvent() {
        logProtectionIncidents()
        apply()
        scheduleFlush()
        rescheduleTimer()
    }

    /// A new directory snapshot: routing view and session addresses (a record's second address
    /// is its relay-to-relay listener).
    func directoryChanged(_ snapshot: DirectorySnapshot) {
        core.directoryChanged(snapshot)
        var addresses: [NodeID: NodeAddress] = [:]
        for (node, record) in snapshot.records where record.addresses.count > 1 {
            addresses[node] = record.addresses[1]
        }
        peerAddresses = addresses
    }

    /// The overlay declared `node` dead or departed.
    func relayDeparted(_ node: NodeID) {
        peerLinks?.closeLink(to: node)
        core.peerFailed(node, now: .now())
        afterPeerEvent()
    }

    /// Graceful leave, step 1 (see `RelayCore.startDraining`).
    func startDraining() {
        core.startDraining()
        afterPeerEvent()
    }

    /// Graceful leave, last step.
    func announceLeaving() {
        core.announceLeaving()
        afterPeerEvent()
    }

    var pendingWork: Int { inspectCore { $0.pendingWork } }

    /// The handler of a client connection that is still open.
    func handler(for id: ConnectionID) -> RelayConnectionHandler? { handlers[id] }

    // MARK: Events from handlers

    func opened(_ handler: RelayConnectionHandler) -> ConnectionID {
        let id = ConnectionID(nextConnectionID)
        nextConnectionID += 1
        handlers[id] = handler
        if shuttingDown {
            handler.closeAfterFlush = true
            markDirty(id, handler)
            return id
        }
        core.connectionOpened(id, now: .now())
        rescheduleTimer()
        return id
    }

    func received(_ packet: ClientPacket, from id: ConnectionID) {
        core.receive(packet, from: id, now: .now())
        apply()
    }

    func inputBuffered(_ bytes: Int, by id: ConnectionID) {
        core.inputBuffered(id, bytes: bytes)
        apply()
    }

    func decodeFailed(_ id: ConnectionID, error: String) {
        let (log, suppressed) = violationLog.admit(now: .now())
        if log {
            logger.info("client protocol violation; connection closed", metadata: [
                "connection": "\(id)", "error": "\(error)", "suppressed-since-last": "\(suppressed)",
            ])
        }
        core.decodeFailed(id, error: error)
        apply()
        flushDirty()
    }

    /// End of one connection's read batch: write everything the batch produced, once per connection.
    func batchComplete(_ id: ConnectionID) {
        scheduleFlush()
        reportInterest()
        if let handler = handlers[id], inspectCore({ $0.queuedBytes(of: id) }) > 2 * queueLimit {
            // Only replies and control packets can push a queue past the bound (broadcasts and
            // events are dropped, tunnel chunks wait), and they answer what this client sent:
            // it does not read what we send, so stop reading what it sends.
            handler.pauseReading()
        }
        rescheduleTimer()
    }

    func closed(_ id: ConnectionID) {
        handlers[id] = nil
        pausedForPeers.remove(id)
        core.connectionClosed(id)
        apply()
        flushDirty()
        reportInterest()
        rescheduleTimer()
        if shuttingDown, handlers.isEmpty { drained?.succeed(); drained = nil }
    }

    func written(_ id: ConnectionID, bytes: Int) {
        core.written(id, bytes: bytes)
        if let handler = handlers[id], handler.readingPaused, inspectCore({ $0.queuedBytes(of: id) }) <= queueLimit,
           !pausedForPeers.contains(id) {
            handler.resumeReading()
        }
        apply()
        flushDirty()
    }

    private func reportInterest() {
        let changes = core.routes.takeInterestChanges()
        if !changes.isEmpty, let interestObserver { interestObserver(changes) }
    }

    // MARK: Effects

    /// Applies the core's effects. Re-entrant calls (a peer link reporting synchronously while
    /// a frame is handed to it) leave their effects to the outer loop.
    private func apply() {
        guard !applying else { return }
        applying = true
        defer { applying = false }
        while !core.effects.isEmpty {
            swap(&scratch, &core.effects)
            for effect in scratch { perform(effect) }
            scratch.removeAll(keepingCapacity: true)
        }
    }

    private func perform(_ effect: RelayEffect) {
        switch effect {
        case .send(let id, let packet):
            guard let handler = handlers[id], !handler.closeAfterFlush else { return }
            handler.pending.writeRelayPacket(packet)
            markDirty(id, handler)
        case .close(let id):
            guard let handler = handlers[id] else { return }
            handler.closeAfterFlush = true
            markDirty(id, handler)
        case .sendPeer(let node, let frame, let dial, let size):
            sendPeer(frame, size: size, to: node, dial: dial)
        case .announceDeparture(let kind):
            guard let peerLinks else { return }
            // Through the core, so the frames are counted like any other (applied by `apply`'s loop).
            for node in peerLinks.linkedPeers { core.sendPeer(.departure(kind), to: node, dial: false) }
        case .pauseReading(let id):
            pausedForPeers.insert(id)
            handlers[id]?.pauseReading()
        case .federation(let effect):
            if let federationOutlet {
                federationOutlet(effect)
            } else if case .request(let ticket, _, _, _) = effect {
                // No gateway runs next to this relay (any more): the request cannot cross.
                core.federationAnswered(ticket: ticket, outcome: .failed(reason: ByteBuffer(string: "plexus: this relay's gateway is not running")),
                                        now: .now())
            }
        case .resumeReading(let id):
            pausedForPeers.remove(id)
            if let handler = handlers[id], handler.readingPaused, inspectCore({ $0.queuedBytes(of: id) }) <= queueLimit {
                handler.resumeReading()
            }
        }
    }

    private func sendPeer(_ frame: PeerFrame, size: Int, to node: NodeID, dial: Bool) {
        let result: PeerSendResult
        if let peerLinks {
            if dial, let address = peerAddresses[node] {
                result = peerLinks.send(frame, encodedSize: size, to: node, host: address.host, port: Int(address.port))
            } else {
                result = peerLinks.sendIfLinked(frame, encodedSize: size, to: node)
            }
        } else {
            result = .overflow
        }
        if result == .overflow {
            if dial, peerAddresses[node] == nil {
                // Not (or no longer) in the directory: nothing pending there can be answered.
                core.peerFailed(node, now: .now())
            }
            core.peerFrameDropped(node, bytes: size)
        }
    }

    private func markDirty(_ id: ConnectionID, _ handler: RelayConnectionHandler) {
        if !handler.dirty {
            handler.dirty = true
            dirty.append(id)
        }
    }

    /// Flushes once, after every I/O event of this event-loop tick was handled (NIO runs tasks
    /// queued from the loop in the same iteration, after the I/O events: no extra syscall).
    private func scheduleFlush() {
        guard !dirty.isEmpty, !flushScheduled else { return }
        flushScheduled = true
        eventLoop.assumeIsolated().execute { [self] in
            flushScheduled = false
            flushDirty()
        }
    }

    func flushDirty() {
        guard !dirty.isEmpty else { return }
        var index = 0
        while index < dirty.count { // `written` callbacks never run synchronously, but be safe
            let id = dirty[index]
            index += 1
            guard let handler = handlers[id] else { continue }
            handler.dirty = false
            handler.flush(driver: self, id: id)
        }
        dirty.removeAll(keepingCapacity: true)
    }

    // MARK: Deadlines

    private func rescheduleTimer() {
        guard !shuttingDown, let next = inspectCore({ $0.nextDeadline }) else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        if let current = timerDeadline, current <= next { return }
        timer?.cancel()
        timerDeadline = next
        timer = eventLoop.assumeIsolated().scheduleTask(deadline: next) { [self] in
            timer = nil
            timerDeadline = nil
            core.expire(now: .now())
            apply()
            flushDirty()
            rescheduleTimer()
        }
    }

    // MARK: Shutdown

    /// CLOSE(reason) to every client, close every socket after its queue is written; sockets that
    /// do not drain within `grace` are closed hard. Succeeds when every connection is gone.
    func shutdown(reason: String, grace: TimeAmount) -> EventLoopFuture<Void> {
        lossReporter?.cancel()
        lossReporter = nil
        shuttingDown = true
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        core.shutdown(reason: reason)
        apply()
        flushDirty()
        if handlers.isEmpty { return eventLoop.makeSucceededVoidFuture() }
        let promise = eventLoop.makePromise(of: Void.self)
        drained = promise
        eventLoop.assumeIsolated().scheduleTask(in: grace) { [self] in
            for handler in handlers.values { handler.closeNow() }
        }
        return promise.futureResult
    }
}
