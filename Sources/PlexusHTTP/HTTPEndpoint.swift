import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The bounds of the HTTP endpoint (besides NIOHTTP1's own 80 KiB header limit).
public struct HTTPEndpointLimits: Sendable, Equatable {
    /// A request body larger than this gets 413 and its connection is closed.
    public var maximumRequestBodyBytes = 4096
    /// A connection idle (no request read) this long is closed.
    public var idleTimeout: TimeAmount = .seconds(30)
    /// Listen backlog.
    public var backlog = 64
    /// Connections open at once; one more is closed as soon as it is accepted (counted in
    /// `HTTPEndpoint.refusedConnections`).
    public var maximumConnections = 64

    public init() {}
}

/// The relay's read-only HTTP endpoint (health, readiness, Prometheus metrics, status JSON,
/// dashboard) on one listening socket.
///
/// Guarantees: it only reads through its `StatusSource`; it runs on its own event loop (never
/// the relay's core loop); `close()` stops listening and is idempotent. The only type of this
/// module that opens sockets (with `HTTPClient`).
public final class HTTPEndpoint: Sendable {
    /// The bound address, as "host:port" (the port is the real one when 0 was asked for).
    public let address: String
    public let port: Int
    private let channel: Channel
    private let history: MetricsHistory
    private let connections: ConnectionCounter

    private init(address: String, port: Int, channel: Channel, history: MetricsHistory, connections: ConnectionCounter) {
        self.address = address
        self.port = port
        self.channel = channel
        self.history = history
        self.connections = connections
    }

    /// Connections closed at once because `maximumConnections` were open.
    public var refusedConnections: Int { connections.refused }

    /// Binds `host:port` and serves `source` to the readers `access` admits (`HTTPAccess`).
    /// Also samples the metrics every
    /// `historyInterval` for the dashboard's charts (`/v1/history`).
    public static func start(host: String, port: Int, source: StatusSource, access: HTTPAccess,
                             limits: HTTPEndpointLimits = .init(),
                             historyInterval: TimeAmount = .seconds(5), logger: Logger) async throws -> HTTPEndpoint {
        let group = MultiThreadedEventLoopGroup.singleton
        let history = MetricsHistory(capacity: 120)
        let responder = HTTPResponder(source: source, history: history)
        let connections = ConnectionCounter(limit: limits.maximumConnections)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: Int32(limits.backlog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard connections.open() else {
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in connections.closed() }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: limits.idleTimeout))
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(HTTPRequestHandler(responder: responder, limits: limits, access: access))
                }
            }
            .bind(host: host, port: port).get()
        let boundPort = channel.localAddress?.port ?? port
        let endpoint = HTTPEndpoint(address: host.contains(":") ? "[\(host)]:\(boundPort)" : "\(host):\(boundPort)",
                                    port: boundPort, channel: channel, history: history, connections: connections)
        history.startSampling(on: channel.eventLoop, every: historyInterval, source: source)
        logger.info("HTTP endpoint listening", metadata: ["address": "\(endpoint.address)",
                                                         "access": "\(access.requiresToken ? "token" : "open to every local user")"])
        return endpoint
    }

    /// Stops listening (open connections finish their current reply). Idempotent.
    public func close() async {
        history.stopSampling()
        try? await channel.close()
    }
}

/// Open connections of the endpoint, bounded.
final class ConnectionCounter: Sendable {
    private let limit: Int
    private let state = NIOLockedValueBox((open: 0, refused: 0))

    init(limit: Int) { self.limit = limit }

    /// Counts a new connection; false (and counted as refused) when `limit` are open.
    func open() -> Bool {
        state.withLockedValue { state in
            guard state.open < limit else {
                state.refused += 1
                return false
            }
            state.open += 1
            return true
        }
    }

    func closed() { state.withLockedValue { $0.open -= 1 } }
    var refused: Int { state.withLockedValue { $0.refused } }
}
