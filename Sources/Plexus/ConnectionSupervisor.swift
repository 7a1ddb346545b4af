import Logging
import NIOConcurrencyHelpers
import NIOCore
import PlexusWire

/// The part of a `Connection` that outlives one relay connection: it carries out the
/// decisions of its `Supervision` (current session, reconnect or end, the subscriptions that
/// survive reconnects) and owns the effects: the state listeners, the reconnect loop, the
/// service's queues.
///
/// Guarantees: at most one session at a time; a lost session is replaced by a new one (same
/// cluster registration, every subscription re-sent) as `policy` allows; once closed, nothing
/// reconnects and every subscription and listener has ended. Thread-safe through one lock;
/// nothing is awaited while it is held.
final class ConnectionSupervisor: Sendable {
    private struct State {
        var supervision: Supervision<ConnectionSession, WorkQueue<ByteBuffer>>
        var listeners: [UInt64: AsyncStream<ConnectionEvent>.Continuation] = [:]
        var nextListenerID: UInt64 = 0
        var reconnectTask: Task<Void, Never>?
    }

    let endpoint: Endpoint
    let service: ServiceDispatch?
    let policy: ReconnectPolicy
    private let state: NIOLockedValueBox<State>
    private let generations = NIOLockedValueBox<UInt64>(0)

    private init(endpoint: Endpoint, service: ServiceDispatch?, policy: ReconnectPolicy) {
        self.endpoint = endpoint
        self.service = service
        self.policy = policy
        self.state = NIOLockedValueBox(State(supervision: Supervision(reconnects: policy.allows(attempt: 1))))
    }

    /// Opens the first session; fails (without reconnecting) if it cannot.
    static func start(endpoint: Endpoint, service: ServiceDispatch?, policy: ReconnectPolicy) async throws -> ConnectionSupervisor {
        let supervisor = ConnectionSupervisor(endpoint: endpoint, service: service, policy: policy)
        let session = try await supervisor.openSession()
        guard supervisor.install(session) else {
            throw session.endedError.withLockedValue { $0 } ?? .connectionLost(reason: "lost right after the handshake")
        }
        return supervisor
    }

    private func openSession() async throws -> ConnectionSession {
        let generation = generations.withLockedValue { value -> UInt64 in
            value += 1
            return value
        }
        return try await ConnectionSession.open(endpoint, service: service, generation: generation) { [weak self] ending in
            self?.sessionEnded(generation: generation, ending)
        }
    }

    /// Makes `session` the current one unless it already ended or the connection was closed;
    /// restores the subscriptions on it.
    private func install(_ session: ConnectionSession) -> Bool {
        // A session that ended before this point had its end ignored (not current): refuse it.
        // Its core sets `endedError` before it tells us, so checking under our lock is enough.
        let restore = state.withLockedValue { s in
            s.supervision.install(session, alreadyEnded: session.endedError.withLockedValue { $0 } != nil)
        }
        guard let restore else {
            session.execute { $0.abandon() }
            return false
        }
        if !restore.isEmpty { session.execute { $0.restore(subscriptions: restore) } }
        return true
    }

    // MARK: State

    var connectionState: ConnectionState { state.withLockedValue { $0.supervision.state } }

    /// The current session, or the error a call fails with at once (see `Supervision.current`).
    func session() throws(PlexusError) -> ConnectionSession {
        try state.withLockedValue { $0.supervision.current }.get()
    }

    func events() -> AsyncStream<ConnectionEvent> {
        let (stream, continuation) = AsyncStream<ConnectionEvent>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let closedWith: PlexusError?? = state.withLockedValue { s in
            if case .closed(let error) = s.supervision.phase { return .some(error) }
            let id = s.nextListenerID
            s.nextListenerID += 1
            s.listeners[id] = continuation
            continuation.onTermination = { [weak self] _ in
                _ = self?.state.withLockedValue { $0.listeners.removeValue(forKey: id) }
            }
            return .none
        }
        if let closedWith {
            continuation.yield(.closed(error: closedWith))
            continuation.finish()
        }
        return stream
    }

    private func emit(_ event: ConnectionEvent, finishing: Bool = false) {
        let listeners: [AsyncStream<ConnectionEvent>.Continuation] = state.withLockedValue { s in
            let all = Array(s.listeners.values)
            if finishing { s.listeners.removeAll() }
            return all
        }
        for listener in listeners {
            listener.yield(event)
            if finishing { listener.finish() }
        }
    }

    // MARK: Losing and restoring the relay

    private func sessionEnded(generation: UInt64, _ ending: SessionEnding) {
        let decision = state.withLockedValue { s in
            s.supervision.sessionEnded(generation: generation, error: ending.error, byLocalClose: ending.byLocalClose)
        }
        switch decision {
        case .ignore:
            return
        case .reconnect(let reason):
            endpoint.logger.info("relay connection lost, reconnecting", metadata: ["reason": "\(reason)"])
            service?.requests.discardQueued()   // their ids belonged to the lost connection
            emit(.disconnected(reason: reason))
            startReconnecting(after: reason)
        case .end(let error, let lostReason):
            if let lostReason { emit(.disconnected(reason: lostReason)) }
            finishEverything(error: error)
        }
    }

    private func startReconnecting(after reason: String) {
        let task = Task { [self] in
            var lastFailure = reason
            var attempt = 1
            while policy.allows(attempt: attempt) {
                let delay = policy.delay(beforeAttempt: attempt, unit: Double.random(in: 0...1))
                emit(.reconnecting(attempt: attempt, delay: delay))
                try? await Task.sleep(for: delay)  // the backoff itself, not a synchronization
                if Task.isCancelled || isCloseRequested { return }
                do {
                    let session = try await openSession()
                    if install(session) {
                        endpoint.logger.info("reconnected to the relay", metadata: ["attempt": "\(attempt)"])
                        emit(.reconnected)
                        return
                    }
                    if isCloseRequested { return }
                    lastFailure = "lost again right after the handshake"
                } catch {
                    lastFailure = "\(error)"
                    endpoint.logger.debug("reconnect attempt failed", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                }
                attempt += 1
            }
            giveUp(reason: "gave up after \(attempt - 1) reconnect attempts; last: \(lastFailure)")
        }
        state.withLockedValue { $0.reconnectTask = task }
    }

    private var isCloseRequested: Bool { state.withLockedValue { $0.supervision.closeRequested } }

    private func giveUp(reason: String) {
        if let error = state.withLockedValue({ $0.supervision.giveUp(reason: reason) }) {
            finishEverything(error: error)
        }
    }

    /// Ends the subscriptions (normally after a graceful close, with `error` otherwise), the
    /// service's queues (its workers stop) and the listeners.
    private func finishEverything(error: PlexusError?) {
        let subscriptions = state.withLockedValue { $0.supervision.takeSubscriptions() }
        for queue in subscriptions { queue.finish(failure: error) }
        service?.requests.finish()
        service?.broadcasts.finish()
        emit(.closed(error: error), finishing: true)
    }

    // MARK: Closing

    /// `close()`: ends the current session gracefully (or stops reconnecting) and ends
    /// everything once the session has ended.
    func close() async throws {
        let decision = state.withLockedValue { s in
            s.reconnectTask?.cancel()
            return s.supervision.close()
        }
        switch decision {
        case .closeSession(let session):
            let promise = session.eventLoop.makePromise(of: Void.self)
            session.execute { $0.close(promise: promise) }
            try await promise.futureResult.get()
        case .finish:
            finishEverything(error: nil)
        case .already(let error):
            if let error { throw error }
        }
    }

    /// The `Connection` was released without `close()`: release the socket now.
    func abandon() {
        let decision = state.withLockedValue { s in
            s.reconnectTask?.cancel()
            return s.supervision.abandon()
        }
        switch decision {
        case .abandon(let session):
            session.execute { $0.abandon() }
            finishEverything(error: nil)
        case .finish:
            finishEverything(error: nil)
        case .nothing:
            break
        }
    }

    // MARK: Subscriptions (the list that survives reconnects)

    /// Adds `topic`; sends SUBSCRIBE now if connected (else the reconnect will).
    func subscribe(topic: String, queue: WorkQueue<ByteBuffer>) throws(PlexusError) {
        let session = try state.withLockedValue { $0.supervision.subscribe(topic, queue: queue) }.get()
        let name = ByteBuffer(string: topic)
        session?.execute { $0.subscribe(topic: name, queue: queue) }
    }

    /// Removes `topic` (only if it is still delivered to `queue`, when given) and ends its
    /// sequence normally; sends UNSUBSCRIBE if connected.
    func unsubscribe(topic: String, queue expected: WorkQueue<ByteBuffer>?) throws(PlexusError) {
        let (queue, session) = try state.withLockedValue { $0.supervision.unsubscribe(topic, expected: expected) }.get()
        queue.finish()
        let name = ByteBuffer(string: topic)
        session?.execute { $0.unsubscribe(topic: name, queue: queue) }
    }

    // MARK: Service replies

    /// Sends a service's reply on the connection its request came on; dropped if that
    /// connection is gone (the relay has answered the requester already).
    func reply(to request: InboundRequest, outcome: ReplyOutcome) {
        guard let session = state.withLockedValue({ $0.supervision.session(ofGeneration: request.generation) }) else { return }
        let reply = ClientPacket.reply(id: request.id, outcome: outcome)
        // Replies ride the outbox: workers finishing together cost one loop task.
        switch session.outbox.admit(reply) {
        case .queued: break
        case .scheduleDrain: session.execute { $0.drainOutbox() }
        case .full: session.execute { $0.reply(id: request.id, outcome: outcome) }
        }
    }
}
