import Foundation
import PlexusMembership
import PlexusOverlay
import PlexusPeering
import PlexusRelay

/// What `GET /v1/status` serves and `plexus status --json` prints: the overlay status
/// (`OverlayStatus`'s keys, so older readers still decode it) plus the relay's version,
/// readiness and draining state.
struct RelayStatusDocument: Codable, Sendable {
    var node: String
    var address: String
    var members: [MemberInfo]
    var counters: OverlayCounters
    var failureDetector: MembershipStatistics?
    var relay: RelayReport?
    var version: String
    var ready: Bool
    var draining: Bool
    var reason: String?
    var uptimeSeconds: Double
    /// Traffic per peer relay, messaging-session handshake failures (`PeerLinks.report()`).
    var peers: PeerLinksReport?
    /// Protected names with key fingerprints and protection counters (absent from older relays).
    var protection: ProtectionReport?
    /// This relay's overlay, the other overlays its directory knows, and on a gateway its links
    /// (`Docs/federation.md`; absent from older relays).
    var federation: FederationReport?

    init(_ status: OverlayStatus, version: String, ready: Bool, draining: Bool, reason: String?, uptimeSeconds: Double) {
        node = status.node
        address = status.address
        members = status.members
        counters = status.counters
        failureDetector = status.failureDetector
        relay = status.relay
        self.version = version
        self.ready = ready
        self.draining = draining
        self.reason = reason
        self.uptimeSeconds = uptimeSeconds
    }
}

/// What `GET /v1/members` serves.
struct MembersDocument: Codable, Sendable {
    var node: String
    var members: [MemberInfo]
}

/// What `GET /v1/connections` serves: the relay core's summary and one entry per client connection.
struct ConnectionsDocument: Codable, Sendable {
    struct Summary: Codable, Sendable {
        var connections: Int
        var handshaking: Int
        var clusters: Int
        var topics: Int
        var pendingRequests: Int
        var tunnels: Int
        var queuedBytes: Int
        var peakConnectionQueuedBytes: Int
    }
    var summary: Summary
    /// Every open client connection, oldest first, at most `ClientConnectionReport.listedConnections`.
    var connections: [ClientConnectionReport]
    /// True when there are more connections than listed (`summary.connections` counts them all).
    var truncated: Bool
}

enum JSON {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(value)) + [0x0a]
    }
}
