/// Where a `Connection` stands.
public enum ConnectionState: Sendable, Equatable {
    /// Handshake done; calls go to the relay.
    case connected
    /// The relay was lost; the binding is reconnecting. Calls fail at once with
    /// `PlexusError.connectionLost`; subscriptions and a service's registration are kept and
    /// restored when the relay is back.
    case reconnecting
    /// Closed for good (by `close()`, by releasing the `Connection`, or because reconnect is
    /// off or gave up). `error` is nil for a graceful close.
    case closed(error: PlexusError?)

    /// The error a closed connection ended with (nil while open, or after a graceful close).
    public var closedError: PlexusError? {
        if case .closed(let error) = self { return error }
        return nil
    }
}

/// A change of a `Connection`'s state, as delivered by `Connection.events()`, in order.
public enum ConnectionEvent: Sendable, Equatable {
    /// The relay connection was lost; in-flight requests and open tunnels failed with
    /// `PlexusError.connectionLost(reason:)`.
    case disconnected(reason: String)
    /// Reconnect attempt `attempt` starts after `delay`.
    case reconnecting(attempt: Int, delay: Duration)
    /// Connected again; subscriptions and the service's registration are restored.
    case reconnected
    /// The connection ended for good; nil error for a graceful close. The last event.
    case closed(error: PlexusError?)
}
