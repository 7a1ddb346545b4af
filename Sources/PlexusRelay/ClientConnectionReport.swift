import NIOCore
import PlexusRelayCore

/// One client connection of this relay as `GET /v1/connections` lists it.
///
/// Guarantees: a snapshot taken on the relay's core loop; names are the client's own (cluster,
/// topics), at most `listedSubscriptions` topics per connection with the full count beside them.
public struct ClientConnectionReport: Sendable, Codable, Equatable {
    /// "handshaking", "member" (registered a cluster) or "client".
    public var kind: String
    public var id: UInt64
    public var remoteAddress: String?
    public var cluster: String?
    public var subscriptions: [String]
    public var subscriptionCount: Int
    public var queuedBytes: Int
    public var bufferedInputBytes: Int
    public var messagesIn: UInt64
    public var messagesOut: UInt64
    public var pendingRequests: Int
    public var tunnels: Int
    public var connectedSeconds: Double

    /// Connections listed at most; `ClientConnectionList.total` counts all of them.
    public static let listedConnections = 1_000
}

/// The relay's client connections: the first `ClientConnectionReport.listedConnections` by age
/// and the total.
public struct ClientConnectionList: Sendable, Codable, Equatable {
    public var total: Int
    public var connections: [ClientConnectionReport]
    /// True when `total` exceeds the list.
    public var truncated: Bool { total > connections.count }
}

extension CoreDriver {
    /// The open client connections, oldest first, at most `limit` (call on the core loop).
    func connectionList(limit: Int) -> ClientConnectionList {
        let (details, total) = core.connectionDetails(limit: limit, now: .now())
        let reports = details.map { detail in
            ClientConnectionReport(
                kind: detail.kind, id: detail.id, remoteAddress: handler(for: ConnectionID(detail.id))?.remoteAddressText,
                cluster: detail.cluster, subscriptions: detail.subscriptions, subscriptionCount: detail.subscriptionCount,
                queuedBytes: detail.queuedBytes, bufferedInputBytes: detail.bufferedInputBytes,
                messagesIn: detail.packetsIn, messagesOut: detail.packetsOut, pendingRequests: detail.pendingRequests,
                tunnels: detail.tunnels, connectedSeconds: detail.connectedSeconds)
        }
        return ClientConnectionList(total: total, connections: reports)
    }
}

extension RelayServer {
    /// The open client connections (for `/v1/connections`), taken on the core loop.
    public func connections(limit: Int = ClientConnectionReport.listedConnections) async throws -> ClientConnectionList {
        let driver = self.driver
        return try await driver.eventLoop.submit { driver.value.connectionList(limit: limit) }.get()
    }
}
