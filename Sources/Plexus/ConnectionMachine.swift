import NIOCore
import PlexusWire

/// The decisions of one relay connection, client side, as a pure value: the handshake, the
/// request and tunnel id tables with their local deadlines, what each relay packet means, and
/// how the connection ends. Events and the current time go in; what to do comes out.
///
/// Guarantees: ids count up from 0 per connection; every request and tunnel construction that
/// started ends exactly once (answered, failed, timed out, cancelled, or failed by the end of
/// the connection); after the connection ended nothing is written and every operation fails
/// with the ending's error; a `close()` in progress is never turned into a reconnect. Driven by
/// `ConnectionCore` (which holds the continuations, queues and socket); tested without sockets
/// in `ConnectionMachineTests`.
struct ConnectionMachine {
    enum Phase: Equatable {
        case handshaking
        case open
        /// CLOSE sent; waiting for the relay's CLOSE until `closeDeadline`.
        case closing
        case closed(PlexusError)
    }

    /// How the connection ends.
    struct Ending: Equatable {
        var error: PlexusError
        /// The application closed it (`close()` or release); otherwise it was lost.
        var byLocalClose: Bool

        static let closedLocally = Ending(error: .closed(reason: "connection closed"), byLocalClose: true)
        static let released = Ending(error: .closed(reason: "connection released without close()"), byLocalClose: true)
        static func lost(_ reason: String) -> Ending { Ending(error: .connectionLost(reason: reason), byLocalClose: false) }
    }

    /// Everything that ends with the connection, to be failed with `ending.error`.
    struct Termination: Equatable {
        var ending: Ending
        /// Set when it ended during the handshake: what the opener's `connect` throws.
        var handshakeError: PlexusError?
        var failedRequests: [UInt64]
        var failedTunnelConstructions: [UInt64]
        var closedTunnels: [UInt64]
        /// Whether `close()` waiters succeed (a clean close) or fail with `ending.error`.
        var closeSucceeded: Bool
        /// Whether a service hears of it (`handleDrop`): every loss, also one that cut a close short.
        var reportLoss: Bool
        /// Whether the owner hears of it (not during the handshake: the opener is told).
        var notifyOwner: Bool
    }

    /// What one relay packet means.
    enum PacketOutcome: Equatable {
        case ignore
        case handshakeAccepted
        case deliverBroadcast(ByteBuffer)
        case deliverRequest(id: UInt64, payload: ByteBuffer, timeoutMilliseconds: UInt64)
        case deliverEvent(topic: ByteBuffer, event: ByteBuffer)
        case completeRequest(id: UInt64, Result<ByteBuffer, PlexusError>)
        /// An inbound tunnel: write `confirm` and `allow`, then hand it to the service.
        case tunnelOffered(tunnelID: UInt64, chunkLimit: UInt64, confirm: ClientPacket, allow: ClientPacket)
        /// Our construction succeeded: write `allow` and hand the tunnel to the caller.
        case tunnelBuilt(id: UInt64, chunkLimit: UInt64, allow: ClientPacket)
        case tunnelRefused(id: UInt64, PlexusError)
        /// A late successful TUN_CONFIRM for a construction given up: release the relay's end.
        case write(ClientPacket)
        case tunnelAllow(id: UInt64, bytes: UInt64)
        case tunnelTransfer(id: UInt64, size: UInt64, chunk: ByteBuffer)
        case tunnelClosed(id: UInt64, reason: String)
        /// The connection ends (graceful CLOSE, the relay's reason, a violation); close the socket.
        case end(Termination)
    }

    /// What a `close()` call does.
    enum CloseOutcome: Equatable {
        case alreadyClosed(PlexusError?)
        /// Another `close()` is in progress: wait with it.
        case wait
        /// Write `packet` (CLOSE), flush, and wait for the relay's CLOSE until the deadline.
        case sendClose(ClientPacket, deadline: NIODeadline)
        /// Closed during the handshake: terminate and close the socket.
        case end(Termination)
    }

    /// What passed deadlines ended.
    struct Expiry: Equatable {
        var timedOutRequests: [UInt64] = []
        var timedOutTunnelConstructions: [UInt64] = []
        /// The close bound passed: the connection ends; close the socket.
        var termination: Termination?
        /// The earliest deadline still pending, to arm the timer for.
        var next: NIODeadline?
    }

    private struct PendingRequest {
        var deadline: NIODeadline
        var cluster: ByteBuffer
    }

    let cluster: String
    let isService: Bool
    /// Extra time the local timers give the relay beyond an operation's timeout.
    let answerGrace: TimeAmount
    /// How long `close()` waits for the relay's CLOSE.
    let closeBound: Duration

    private(set) var phase: Phase = .handshaking
    private var nextRequestID: UInt64 = 0
    private var requests: [UInt64: PendingRequest] = [:]
    private var nextTunnelID: UInt64 = 0
    private var tunnelConstructions: [UInt64: NIODeadline] = [:]
    private var tunnels: Set<UInt64> = []
    private var closeDeadline: NIODeadline?

    init(cluster: String, isService: Bool, answerGrace: TimeAmount, closeBound: Duration) {
        self.cluster = cluster
        self.isService = isService
        self.answerGrace = answerGrace
        self.closeBound = closeBound
    }

    var isOpen: Bool { phase == .open }
    var pendingRequestCount: Int { requests.count }

    /// What an operation on a connection that is not open fails with.
    var closedError: PlexusError {
        switch phase {
        case .closed(let error): error
        case .closing: .closed(reason: "connection closing")
        case .handshaking, .open: .closed(reason: "connection closed")
        }
    }

    // MARK: Handshake

    /// The INIT that opens the handshake.
    func handshake() -> ClientPacket {
        .initiate(version: ByteBuffer(string: WireConstants.protocolVersion), cluster: ByteBuffer(string: cluster))
    }

    // MARK: Operations

    /// Starts a request: its id and the packet to write, or the error it fails with now.
    mutating func startRequest(cluster: ByteBuffer, payload: ByteBuffer, milliseconds: UInt64,
                               now: NIODeadline) -> Result<(id: UInt64, packet: ClientPacket, deadline: NIODeadline), PlexusError> {
        guard isOpen else { return .failure(closedError) }
        let id = nextRequestID
        nextRequestID &+= 1
        let deadline = now + .milliseconds(Int64(milliseconds)) + answerGrace
        requests[id] = PendingRequest(deadline: deadline, cluster: cluster)
        return .success((id, .request(id: id, cluster: cluster, payload: payload, timeoutMilliseconds: milliseconds), deadline))
    }

    /// The caller gave up on request `id` (task cancelled): true if it was still pending.
    mutating func cancelRequest(id: UInt64) -> Bool {
        requests.removeValue(forKey: id) != nil
    }

    /// Starts a tunnel construction: its id and the TUN_INIT to write.
    mutating func startTunnel(cluster: ByteBuffer, milliseconds: UInt64,
                              now: NIODeadline) -> Result<(id: UInt64, packet: ClientPacket, deadline: NIODeadline), PlexusError> {
        guard isOpen else { return .failure(closedError) }
        let id = nextTunnelID
        nextTunnelID &+= 1
        let deadline = now + .milliseconds(Int64(milliseconds)) + answerGrace
        tunnelConstructions[id] = deadline
        return .success((id, .tunnelInit(id: id, cluster: cluster, timeoutMilliseconds: milliseconds), deadline))
    }

    /// The caller gave up on construction `id`: true if it was still pending.
    mutating func cancelTunnel(id: UInt64) -> Bool {
        tunnelConstructions.removeValue(forKey: id) != nil
    }

    /// A tunnel ended locally (its close bound passed).
    mutating func forgetTunnel(id: UInt64) {
        tunnels.remove(id)
    }

    // MARK: Relay packets

    mutating func receive(_ packet: RelayPacket) -> PacketOutcome {
        if phase == .handshaking {
            switch packet {
            case .accept:
                phase = .open
                return .handshakeAccepted
            case .deny(let reason):
                let text = String(buffer: reason)
                return .end(end(.lost("denied: \(text)"), handshakeError: .refused(reason: text)))
            default:
                return violation("expected INIT or DENY during the handshake, got \(packet)")
            }
        }
        if case .closed = phase { return .ignore }
        switch packet {
        case .accept, .deny:
            return violation("INIT/DENY after the handshake")
        case .close(let reason):
            let text = String(buffer: reason)
            let lost = text.isEmpty ? "the relay closed the connection" : "the relay closed the connection: \(text)"
            if phase == .closing && text.isEmpty { return .end(end(.closedLocally)) }
            return .end(end(.lost(lost)))
        case .broadcast(let message):
            guard isService else { return violation("BROADCAST delivered to a plain client") }
            return .deliverBroadcast(message)
        case .request(let id, let payload, let timeoutMilliseconds):
            guard isService else { return violation("REQUEST delivered to a plain client") }
            return .deliverRequest(id: id, payload: payload, timeoutMilliseconds: timeoutMilliseconds)
        case .reply(let id, let result):
            guard let pending = requests.removeValue(forKey: id) else { return .ignore }
            switch result {
            case .success(let reply): return .completeRequest(id: id, .success(reply))
            case .timedOut: return .completeRequest(id: id, .failure(.timedOut))
            case .fault(let fault):
                return .completeRequest(id: id, .failure(.forFault(String(buffer: fault), cluster: String(buffer: pending.cluster))))
            }
        case .publish(let topic, let event):
            return .deliverEvent(topic: topic, event: event)
        case .tunnelOffer(let buildID, let chunkLimit):
            guard isService else { return violation("TUN_INIT offered to a plain client") }
            guard chunkLimit >= 1 else { return violation("tunnel offer with chunk limit 0") }
            let id = nextTunnelID
            nextTunnelID &+= 1
            tunnels.insert(id)
            return .tunnelOffered(
                tunnelID: id, chunkLimit: chunkLimit, confirm: .tunnelConfirm(buildID: buildID, tunnelID: id),
                allow: .tunnelAllow(id: id, allowance: UInt64(WireConstants.bindingTunnelBuffer)))
        case .tunnelResult(let id, let chunkLimit):
            guard tunnelConstructions.removeValue(forKey: id) != nil else {
                return chunkLimit == nil ? .ignore : .write(.tunnelClose(id: id))
            }
            guard let chunkLimit else { return .tunnelRefused(id: id, .timedOut) }
            guard chunkLimit >= 1 else { return violation("tunnel result with chunk limit 0", failing: id) }
            tunnels.insert(id)
            return .tunnelBuilt(id: id, chunkLimit: chunkLimit, allow: .tunnelAllow(id: id, allowance: UInt64(WireConstants.bindingTunnelBuffer)))
        case .tunnelAllow(let id, let allowance):
            return tunnels.contains(id) ? .tunnelAllow(id: id, bytes: allowance) : .ignore
        case .tunnelTransfer(let id, let size, let chunk):
            return tunnels.contains(id) ? .tunnelTransfer(id: id, size: size, chunk: chunk) : .ignore
        case .tunnelClose(let id, let reason):
            return tunnels.remove(id) != nil ? .tunnelClosed(id: id, reason: String(buffer: reason)) : .ignore
        }
    }

    private mutating func violation(_ text: String, failing construction: UInt64? = nil) -> PacketOutcome {
        var termination = end(.lost("protocol violation: \(text)"), handshakeError: .protocolViolation(text))
        if let construction { termination.failedTunnelConstructions.append(construction) }
        return .end(termination)
    }

    // MARK: Time

    /// Ends what is past its deadline at `now`.
    mutating func expire(now: NIODeadline) -> Expiry {
        var expiry = Expiry()
        var next: NIODeadline?
        func consider(_ deadline: NIODeadline) { if next.map({ deadline < $0 }) ?? true { next = deadline } }
        for (id, pending) in requests {
            if pending.deadline <= now { expiry.timedOutRequests.append(id) } else { consider(pending.deadline) }
        }
        for (id, deadline) in tunnelConstructions {
            if deadline <= now { expiry.timedOutTunnelConstructions.append(id) } else { consider(deadline) }
        }
        expiry.timedOutRequests.sort()
        expiry.timedOutTunnelConstructions.sort()
        for id in expiry.timedOutRequests { requests.removeValue(forKey: id) }
        for id in expiry.timedOutTunnelConstructions { tunnelConstructions.removeValue(forKey: id) }
        if phase == .closing, let closeDeadline {
            if closeDeadline <= now {
                expiry.termination = end(.lost("no CLOSE from the relay within \(closeBound)"))
            } else {
                consider(closeDeadline)
            }
        }
        expiry.next = expiry.termination == nil ? next : nil
        return expiry
    }

    // MARK: Ending

    mutating func close(now: NIODeadline) -> CloseOutcome {
        switch phase {
        case .closed(let error):
            return .alreadyClosed(error == Ending.closedLocally.error ? nil : error)
        case .closing:
            return .wait
        case .handshaking:
            return .end(end(.closedLocally, handshakeError: .closed(reason: "closed during the handshake")))
        case .open:
            phase = .closing
            let deadline = now + Validate.timeAmount(closeBound)
            closeDeadline = deadline
            return .sendClose(.close, deadline: deadline)
        }
    }

    /// The `Connection` was released: CLOSE if open (written before the socket closes), then end.
    mutating func abandon() -> (close: ClientPacket?, termination: Termination?) {
        let packet: ClientPacket? = phase == .open ? .close : nil
        return (packet, end(.released))
    }

    /// The socket closed (end of stream).
    mutating func channelClosed() -> Termination? {
        if case .closed = phase { return nil }
        return end(.lost("end of stream without CLOSE"))
    }

    /// The pipeline reported an error (undecodable packet, socket error).
    mutating func failed(_ text: String) -> Termination? {
        if case .closed = phase { return nil }
        return end(.lost("protocol violation: \(text)"), handshakeError: .protocolViolation(text))
    }

    /// Ends the connection exactly once; what was pending is listed for the caller to fail.
    private mutating func end(_ ending: Ending, handshakeError: PlexusError? = nil) -> Termination {
        let previous = phase
        var ending = ending
        // Whatever ends a connection being closed ends it as the application asked.
        if previous == .closing { ending.byLocalClose = true }
        phase = .closed(ending.error)
        closeDeadline = nil
        let termination = Termination(
            ending: ending,
            handshakeError: previous == .handshaking ? (handshakeError ?? .connectionFailed("\(ending.error)")) : nil,
            failedRequests: requests.keys.sorted(),
            failedTunnelConstructions: tunnelConstructions.keys.sorted(),
            closedTunnels: tunnels.sorted(),
            closeSucceeded: ending.error == Ending.closedLocally.error,
            reportLoss: previous != .handshaking && isService && { if case .connectionLost = ending.error { true } else { false } }(),
            notifyOwner: previous != .handshaking)
        requests.removeAll()
        tunnelConstructions.removeAll()
        tunnels.removeAll()
        return termination
    }
}
