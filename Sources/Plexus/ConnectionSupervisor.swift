import Logging
import NIOConcurrencyHelpers
import NIOCore
import PlexusWire

/// The part of a `Connection` that outlives one relay connection: the current
/// `ConnectionSession`, the topics the application subscribed, the service's queues, the
/// state listeners and the reconnect loop.
///
/// Guarantees: at most one session at a time; a lost session is replaced by a new one (same
/// cluster registration, every subscription re-sent) as `policy` allows; once closed, nothing
/// reconnects and every subscription and listener has ended. Thread-safe through one lock;
/// nothing is awaited while it is held.
final class ConnectionSupervisor: Sendable {
    enum Phase {
        case connected(ConnectionSession)
        case reconnecting(reason: String)
        case closed(PlexusError?)
    }

    private struct State {
        var phase: Phase = .reconnecting(reason: "connecting")
        var closeRequested = false
        var subscriptions: [String: WorkQueue<ByteBuffer>] = [:]
        var listeners: [UInt64: AsyncStream<ConnectionEvent>.Continuation] = [:]
        var nextListenerID: UInt64 = 0
        var reconnectTask: Task<Void, Never>?
    }

    let endpoint: Endpoint
    let service: ServiceDispatch?
    let policy: ReconnectPolicy
    private let state = NIOLockedValueBox(State())
    private let generations = NIOLockedValueBox<UInt64>(0)

    private init(endpoint: Endpoint, service: ServiceDispatch?, policy: ReconnectPolicy) {
        self.endpoint = endpoint
        self.service = service
        self.policy = policy
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
        let restore: [String: WorkQueue<ByteBuffer>]? = state.withLockedValue { s in
            guard !s.closeRequested, case .reconnecting = s.phase else { return nil }
            // Ended before we got here: its `sessionEnded` was ignored, so it counts as failed.
            guard session.endedError.withLockedValue({ $0 }) == nil else { return nil }
            s.phase = .connected(session)
            return s.subscriptions
        }
        guard let restore else {
            session.execute { $0.abandon() }
            return false
        }
        if !restore.isEmpty { session.execute { $0.restore(subscriptions: restore) } }
        return true
    }

    // MARK: State

    var phase: Phase { state.withLockedValue { $0.phase } }

    var connectionState: ConnectionState {
        switch phase {
        case .connected: .connected
        case .reconnecting: .reconnecting
        case .closed(let error): .closed(error: error)
        }
    }

    /// The current session, or the error a call fails with at once (documented choice: while
    /// reconnecting, calls fail fast with `.connectionLost` instead of waiting).
    func session() throws(PlexusError) -> ConnectionSession {
        switch phase {
        case .connected(let session): return session
        case .reconnecting(let reason): throw .connectionLost(reason: "\(reason); reconnecting")
        case .closed(let error): throw error ?? .closed(reason: "connection closed")
        }
    }

    func events() -> AsyncStream<ConnectionEvent> {
        let (stream, continuation) = AsyncStream<ConnectionEvent>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let registered: Bool = state.withLockedValue { s in
            if case .closed = s.phase { return false }
            let id = s.nextListenerID
            s.nextListenerID += 1
            s.listeners[id] = continuation
            continuation.onTermination = { [weak self] _ in
                _ = self?.state.withLockedValue { $0.listeners.removeValue(forKey: id) }
            }
            return true
        }
        if !registered {
            if case .closed(let error) = phase { continuation.yield(.closed(error: error)) }
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
        enum Next { case ignore, reconnect(String), end(PlexusError?) }
        let next: Next = state.withLockedValue { s in
            guard case .connected(let current) = s.phase, current.generation == generation else { return .ignore }
            if ending.byLocalClose || s.closeRequested {
                let error: PlexusError? = ending.error == .closed(reason: "connection closed") ? nil : ending.error
                s.phase = .closed(error)
                return .end(error)
            }
            let reason: String
            if case .connectionLost(let text) = ending.error { reason = text } else { reason = "\(ending.error)" }
            guard policy.allows(attempt: 1) else {
                s.phase = .closed(ending.error)
                return .end(ending.error)
            }
            s.phase = .reconnecting(reason: reason)
            return .reconnect(reason)
        }
        switch next {
        case .ignore:
            return
        case .reconnect(let reason):
            endpoint.logger.info("relay connection lost, reconnecting", metadata: ["reason": "\(reason)"])
            service?.requests.discardQueued()   // their ids belonged to the lost connection
            emit(.disconnected(reason: reason))
            startReconnecting(after: reason)
        case .end(let error):
            if let error, case .connectionLost(let reason) = error { emit(.disconnected(reason: reason)) }
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

    private var isCloseRequested: Bool { state.withLockedValue { $0.closeRequested } }

    private func giveUp(reason: String) {
        let error = PlexusError.connectionLost(reason: reason)
        let changed: Bool = state.withLockedValue { s in
            guard case .reconnecting = s.phase else { return false }
            s.phase = .closed(error)
            return true
        }
        if changed { finishEverything(error: error) }
    }

    /// Ends the subscriptions (normally after a graceful close, with `error` otherwise), the
    /// service's queues (its workers stop) and the listeners.
    private func finishEverything(error: PlexusError?) {
        let subscriptions = state.withLockedValue { s -> [WorkQueue<ByteBuffer>] in
            let all = Array(s.subscriptions.values)
            s.subscriptions.removeAll()
            return all
        }
        for queue in subscriptions { queue.finish(failure: error) }
        service?.requests.finish()
        service?.broadcasts.finish()
        emit(.closed(error: error), finishing: true)
    }

    // MARK: Closing

    /// `close()`: ends the current session gracefully (or stops reconnecting) and ends
    /// everything once the session has ended.
    func close() async throws {
        enum Action { case closeSession(ConnectionSession), finished, already(PlexusError?) }
        let action: Action = state.withLockedValue { s in
            s.closeRequested = true
            s.reconnectTask?.cancel()
            switch s.phase {
            case .connected(let session): return .closeSession(session)
            case .reconnecting:
                s.phase = .closed(nil)
                return .finished
            case .closed(let error): return .already(error)
            }
        }
        switch action {
        case .closeSession(let session):
            let promise = session.eventLoop.makePromise(of: Void.self)
            session.execute { $0.close(promise: promise) }
            try await promise.futureResult.get()
        case .finished:
            finishEverything(error: nil)
        case .already(let error):
            if let error { throw error }
        }
    }

    /// The `Connection` was released without `close()`: release the socket now.
    func abandon() {
        enum Action { case abandon(ConnectionSession), finish, nothing }
        let action: Action = state.withLockedValue { s in
            s.closeRequested = true
            s.reconnectTask?.cancel()
            switch s.phase {
            case .connected(let session):
                s.phase = .closed(nil)
                return .abandon(session)
            case .reconnecting:
                s.phase = .closed(nil)
                return .finish
            case .closed: return .nothing
            }
        }
        switch action {
        case .abandon(let session):
            session.execute { $0.abandon() }
            finishEverything(error: nil)
        case .finish: finishEverything(error: nil)
        case .nothing: break
        }
    }

    // MARK: Subscriptions (the list that survives reconnects)

    /// Adds `topic`; sends SUBSCRIBE now if connected (else the reconnect will).
    func subscribe(topic: String, queue: WorkQueue<ByteBuffer>) throws(PlexusError) {
        let outcome: Result<ConnectionSession?, PlexusError> = state.withLockedValue { s in
            if case .closed(let error) = s.phase { return .failure(error ?? .closed(reason: "connection closed")) }
            guard s.subscriptions[topic] == nil else { return .failure(.invalidArgument("already subscribed to \(topic)")) }
            s.subscriptions[topic] = queue
            if case .connected(let session) = s.phase { return .success(session) }
            return .success(nil)
        }
        let session = try outcome.get()
        let name = ByteBuffer(string: topic)
        session?.execute { $0.subscribe(topic: name, queue: queue) }
    }

    /// Removes `topic` (only if it is still delivered to `queue`, when given) and ends its
    /// sequence normally; sends UNSUBSCRIBE if connected.
    func unsubscribe(topic: String, queue expected: WorkQueue<ByteBuffer>?) throws(PlexusError) {
        let outcome: Result<(WorkQueue<ByteBuffer>, ConnectionSession?), PlexusError> = state.withLockedValue { s in
            guard let queue = s.subscriptions[topic], expected.map({ $0 === queue }) ?? true else {
                return .failure(.invalidArgument("not subscribed to \(topic)"))
            }
            s.subscriptions.removeValue(forKey: topic)
            if case .connected(let session) = s.phase { return .success((queue, session)) }
            return .success((queue, nil))
        }
        let (queue, session) = try outcome.get()
        queue.finish()
        let name = ByteBuffer(string: topic)
        session?.execute { $0.unsubscribe(topic: name, queue: queue) }
    }

    // MARK: Service replies

    /// Sends a service's reply on the connection its request came on; dropped if that
    /// connection is gone (the relay has answered the requester already).
    func reply(to request: InboundRequest, outcome: ReplyOutcome) {
        guard case .connected(let session) = phase, session.generation == request.generation else { return }
        let reply = ClientPacket.reply(id: request.id, outcome: outcome)
        // Replies ride the outbox: workers finishing together cost one loop task.
        switch session.outbox.admit(reply) {
        case .queued: break
        case .scheduleDrain: session.execute { $0.drainOutbox() }
        case .full: session.execute { $0.reply(id: request.id, outcome: outcome) }
        }
    }
}
