import PlexusTelemetry

/// Whether the relay serves clients and whether it is ready for traffic, as `/healthz` and
/// `/readyz` report it.
public struct HealthState: Sendable, Equatable, Codable {
    /// The client endpoint is up (true from start until shutdown closes it, draining included).
    public var serving: Bool
    /// Joined the overlay (or development mode / nothing to join) and not draining.
    public var ready: Bool
    /// Why the relay is not ready (or not serving); nil when both are true.
    public var reason: String?

    public init(serving: Bool, ready: Bool, reason: String? = nil) {
        self.serving = serving
        self.ready = ready
        self.reason = reason
    }
}

/// A JSON document one of the `/v1/...` endpoints serves: already encoded, so this module does
/// not need to know the relay's status types.
public struct JSONDocument: Sendable, Equatable {
    public var bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = bytes }
}

/// Where the HTTP endpoint gets what it serves. Each closure is called once per request that
/// needs it (never on the relay's hot path) and may suspend; a throwing closure becomes a 503
/// with the error's description.
///
/// Guarantees: the endpoint never calls into the relay by any other route, so it depends on
/// nothing but these closures.
public struct StatusSource: Sendable {
    public var health: @Sendable () async -> HealthState
    /// `/v1/status` (what `plexus status --json` prints).
    public var status: @Sendable () async throws -> JSONDocument
    /// `/v1/members`.
    public var members: @Sendable () async throws -> JSONDocument
    /// `/v1/connections`.
    public var connections: @Sendable () async throws -> JSONDocument
    /// The figures `/metrics` exports and the dashboard charts.
    public var metrics: @Sendable () async throws -> RelayMetricsSample

    public init(health: @escaping @Sendable () async -> HealthState,
                status: @escaping @Sendable () async throws -> JSONDocument,
                members: @escaping @Sendable () async throws -> JSONDocument,
                connections: @escaping @Sendable () async throws -> JSONDocument,
                metrics: @escaping @Sendable () async throws -> RelayMetricsSample) {
        self.health = health
        self.status = status
        self.members = members
        self.connections = connections
        self.metrics = metrics
    }
}

extension HealthState {
    /// The reason `/readyz` gives while the relay drains.
    public static let drainingReason = "draining: finishing pending requests before leaving"

    /// The readiness rule: serving, not draining, and joined (or development mode, or nothing
    /// to join: the first relay of an overlay).
    public static func evaluate(serving: Bool, draining: Bool, development: Bool, expectsPeers: Bool,
                                joined: Bool) -> HealthState {
        if !serving { return HealthState(serving: false, ready: false, reason: "not serving: the relay is starting or stopped") }
        if draining { return HealthState(serving: true, ready: false, reason: drainingReason) }
        if development || !expectsPeers || joined { return HealthState(serving: true, ready: true) }
        return HealthState(serving: true, ready: false,
                           reason: "not joined: no other relay reachable yet through --join or --discover")
    }
}
