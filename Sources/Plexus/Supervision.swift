/// A relay connection as `Supervision` sees it: which one it is.
protocol SupervisedSession {
    var generation: UInt64 { get }
}

extension ConnectionSession: SupervisedSession {}

/// The decisions of a `Connection`'s lifetime across relay connections, as a pure value:
/// which relay connection is current, whether a lost one is replaced or ends everything, what a
/// call does while reconnecting, and the subscriptions that survive reconnects.
///
/// Guarantees: at most one current session; a session's end counts only while it is current
/// (a stale generation is ignored); once `close()` or release was asked for, nothing
/// reconnects and the phase only moves to closed; a session that ended before it could be
/// installed is refused. `ConnectionSupervisor` holds it under its lock and carries the
/// decisions out; `SupervisionTests` test it without sockets.
struct Supervision<Session: SupervisedSession, Queue: AnyObject> {
    enum Phase {
        case connected(Session)
        case reconnecting(reason: String)
        case closed(PlexusError?)
    }

    /// What to do when the current session ended.
    enum EndDecision: Equatable {
        case ignore
        /// Start the reconnect loop; tell listeners the relay was lost for `reason`.
        case reconnect(reason: String)
        /// End everything with `error` (nil: graceful); `lostReason` is set when it was a loss.
        case end(PlexusError?, lostReason: String?)
    }

    enum CloseDecision {
        case closeSession(Session)
        case finish
        case already(PlexusError?)
    }

    enum AbandonDecision {
        case abandon(Session)
        case finish
        case nothing
    }

    private(set) var phase: Phase = .reconnecting(reason: "connecting")
    private(set) var closeRequested = false
    private(set) var subscriptions: [String: Queue] = [:]
    /// Whether a lost session is replaced (the policy allows a first attempt).
    let reconnects: Bool

    init(reconnects: Bool) {
        self.reconnects = reconnects
    }

    /// The session a call uses now, or what it fails with at once (while reconnecting, calls
    /// fail fast with `.connectionLost` instead of waiting).
    var current: Result<Session, PlexusError> {
        switch phase {
        case .connected(let session): .success(session)
        case .reconnecting(let reason): .failure(.connectionLost(reason: "\(reason); reconnecting"))
        case .closed(let error): .failure(error ?? .closed(reason: "connection closed"))
        }
    }

    var state: ConnectionState {
        switch phase {
        case .connected: .connected
        case .reconnecting: .reconnecting
        case .closed(let error): .closed(error: error)
        }
    }

    /// The current session if it is generation `generation` (a service's reply goes only there).
    func session(ofGeneration generation: UInt64) -> Session? {
        guard case .connected(let session) = phase, session.generation == generation else { return nil }
        return session
    }

    /// Makes `session` current, unless the connection was closed meanwhile or the session
    /// `alreadyEnded`; returns the subscriptions to restore on it, nil if refused.
    mutating func install(_ session: Session, alreadyEnded: Bool) -> [String: Queue]? {
        guard !closeRequested, !alreadyEnded, case .reconnecting = phase else { return nil }
        phase = .connected(session)
        return subscriptions
    }

    mutating func sessionEnded(generation: UInt64, error: PlexusError, byLocalClose: Bool) -> EndDecision {
        guard case .connected(let current) = phase, current.generation == generation else { return .ignore }
        let reason: String
        if case .connectionLost(let text) = error { reason = text } else { reason = "\(error)" }
        if byLocalClose || closeRequested {
            let final: PlexusError? = error == .closed(reason: "connection closed") ? nil : error
            phase = .closed(final)
            if case .connectionLost = error { return .end(final, lostReason: reason) }
            return .end(final, lostReason: nil)
        }
        guard reconnects else {
            phase = .closed(error)
            return .end(error, lostReason: reason)
        }
        phase = .reconnecting(reason: reason)
        return .reconnect(reason: reason)
    }

    /// The reconnect loop stopped trying: the error everything ends with, nil if not reconnecting.
    mutating func giveUp(reason: String) -> PlexusError? {
        guard case .reconnecting = phase else { return nil }
        let error = PlexusError.connectionLost(reason: reason)
        phase = .closed(error)
        return error
    }

    mutating func close() -> CloseDecision {
        closeRequested = true
        switch phase {
        case .connected(let session): return .closeSession(session)
        case .reconnecting:
            phase = .closed(nil)
            return .finish
        case .closed(let error): return .already(error)
        }
    }

    mutating func abandon() -> AbandonDecision {
        closeRequested = true
        switch phase {
        case .connected(let session):
            phase = .closed(nil)
            return .abandon(session)
        case .reconnecting:
            phase = .closed(nil)
            return .finish
        case .closed: return .nothing
        }
    }

    // MARK: Subscriptions

    /// Records `topic`; returns the session to send SUBSCRIBE on now (nil: the reconnect will).
    mutating func subscribe(_ topic: String, queue: Queue) -> Result<Session?, PlexusError> {
        if case .closed(let error) = phase { return .failure(error ?? .closed(reason: "connection closed")) }
        guard subscriptions[topic] == nil else { return .failure(.invalidArgument("already subscribed to \(topic)")) }
        subscriptions[topic] = queue
        if case .connected(let session) = phase { return .success(session) }
        return .success(nil)
    }

    /// Forgets `topic` (only if still delivered to `expected`, when given); returns its queue
    /// and the session to send UNSUBSCRIBE on now.
    mutating func unsubscribe(_ topic: String, expected: Queue?) -> Result<(Queue, Session?), PlexusError> {
        guard let queue = subscriptions[topic], expected.map({ $0 === queue }) ?? true else {
            return .failure(.invalidArgument("not subscribed to \(topic)"))
        }
        subscriptions.removeValue(forKey: topic)
        if case .connected(let session) = phase { return .success((queue, session)) }
        return .success((queue, nil))
    }

    /// Empties the subscription list (the connection ended); returns the queues to finish.
    mutating func takeSubscriptions() -> [Queue] {
        let all = Array(subscriptions.values)
        subscriptions.removeAll()
        return all
    }
}

extension Supervision: Sendable where Session: Sendable, Queue: Sendable {}
extension Supervision.Phase: Sendable where Session: Sendable, Queue: Sendable {}
