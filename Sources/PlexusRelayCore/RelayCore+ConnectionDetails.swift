import NIOCore

/// One client connection as `/v1/connections` shows it: what it is, what it takes part in, and
/// how much it has exchanged. A snapshot: plain values, taken on the core's loop.
package struct ConnectionDetail: Sendable, Equatable {
    /// "handshaking" until its INIT is accepted, then "member" (it registered a cluster) or "client".
    package var kind: String
    package var id: UInt64
    package var cluster: String?
    /// The topics it subscribes to, at most `ConnectionDetail.listedSubscriptions` of them.
    package var subscriptions: [String]
    /// Its number of subscriptions (may exceed the list).
    package var subscriptionCount: Int
    package var queuedBytes: Int
    package var bufferedInputBytes: Int
    package var packetsIn: UInt64
    package var packetsOut: UInt64
    /// Requests delivered to it (a member) and not answered yet.
    package var pendingRequests: Int
    /// Tunnels it has open (on this relay or bridged to another).
    package var tunnels: Int
    package var connectedSeconds: Double

    /// Subscriptions listed per connection; the count is always complete.
    package static let listedSubscriptions = 64
}

extension RelayCore {
    /// The open connections (closed ones that are still being torn down are left out), ordered by
    /// id (oldest first), at most `limit` of them, with the total number of open connections.
    package func connectionDetails(limit: Int, now: NIODeadline) -> (details: [ConnectionDetail], total: Int) {
        let open = connections.filter { !$0.value.lifecycle.isClosed }
        let chosen = open.keys.sorted().prefix(max(0, limit))
        let details = chosen.compactMap { id -> ConnectionDetail? in
            guard let connection = open[id] else { return nil }
            let kind = connection.lifecycle.isAwaitingHandshake ? "handshaking" : connection.cluster == nil ? "client" : "member"
            let subscriptions = connection.subscriptions.map(\.description).sorted()
            return ConnectionDetail(
                kind: kind, id: id.rawValue, cluster: connection.cluster?.description,
                subscriptions: Array(subscriptions.prefix(ConnectionDetail.listedSubscriptions)),
                subscriptionCount: subscriptions.count, queuedBytes: connection.queuedBytes,
                bufferedInputBytes: connection.bufferedInput, packetsIn: connection.packetsIn,
                packetsOut: connection.packetsOut, pendingRequests: connection.delivered.count,
                tunnels: connection.tunnels.count + connection.bridgedTunnels.count,
                connectedSeconds: Double((now - connection.openedAt).nanoseconds) / 1e9)
        }
        return (details, open.count)
    }
}
