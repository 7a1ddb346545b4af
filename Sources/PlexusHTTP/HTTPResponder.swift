import NIOHTTP1

/// Turns a route into a reply by asking the `StatusSource`; the only place that calls it.
///
/// Guarantees: every route gets exactly one reply; a provider that throws gives 503 with the
/// error in a JSON body; nothing here changes the relay's state (the endpoint is read-only).
public struct HTTPResponder: Sendable {
    public let source: StatusSource
    let exporter: MetricsExporter
    let history: MetricsHistory?

    public init(source: StatusSource, history: MetricsHistory? = nil) {
        self.source = source
        self.exporter = MetricsExporter()
        self.history = history
    }

    public func reply(to route: HTTPRoute) async -> HTTPReply {
        do {
            switch route {
            case .health:
                let health = await source.health()
                return health.serving
                    ? .json(.ok, "{\"status\":\"ok\"}\n")
                    : .jsonMessage(.serviceUnavailable, key: "reason", health.reason ?? "not serving")
            case .ready:
                let health = await source.health()
                return health.ready && health.serving
                    ? .json(.ok, "{\"ready\":true}\n")
                    : .json(.serviceUnavailable, "{\"ready\":false,\"reason\":\(jsonString(health.reason ?? "not ready"))}\n")
            case .metrics:
                let sample = try await source.metrics()
                return HTTPReply(status: .ok, contentType: HTTPReply.prometheus, body: exporter.exposition(of: sample))
            case .status:
                return HTTPReply(status: .ok, contentType: HTTPReply.json, body: try await source.status().bytes)
            case .members:
                return HTTPReply(status: .ok, contentType: HTTPReply.json, body: try await source.members().bytes)
            case .connections:
                return HTTPReply(status: .ok, contentType: HTTPReply.json, body: try await source.connections().bytes)
            case .history:
                let points = history?.points() ?? []
                return HTTPReply(status: .ok, contentType: HTTPReply.json, body: Array(MetricsHistory.json(points).utf8))
            case .dashboard:
                return HTTPReply(status: .ok, contentType: HTTPReply.html, body: Array(Dashboard.html.utf8))
            case .notFound:
                return .jsonMessage(.notFound, "not found; try /healthz, /readyz, /metrics, /v1/status, /v1/members, /v1/connections or /")
            case .methodNotAllowed:
                return .jsonMessage(.methodNotAllowed, "the endpoint is read-only: GET or HEAD only")
            }
        } catch {
            return .jsonMessage(.serviceUnavailable, "\(error)")
        }
    }
}
