import NIOCore
import PlexusCrypto
import PlexusVocabulary
import PlexusRelayCore
import PlexusWire

/// Everything a relay's client endpoint can be tuned with. `init()` gives the defaults below;
/// every property is a `var`.
public struct RelayConfiguration: Sendable {
    /// Addresses to listen on (loopback only). Default `["127.0.0.1", "::1"]`; startup fails only
    /// if every bind fails.
    public var hosts: [String]
    /// TCP port. Default 55555; 0 = ephemeral (the first bind's port is reused for the others).
    public var port: Int
    /// A connection that has not completed its handshake by then is closed silently. Default 5 s.
    public var handshakeTimeout: TimeAmount
    /// Bound on bytes queued for one connection but not yet taken by its socket. Default 8 MiB.
    public var outboundQueueLimitBytes: Int
    /// Tunnel chunk limit L dictated to both ends of every tunnel. Default 65 536.
    public var chunkLimit: Int
    /// Tunnel window W: initial grant to each end and bound on bytes buffered per direction. Default 4 MiB.
    public var tunnelWindow: Int
    /// How long an offered tunnel may stay unconfirmed by the acceptor. Default 3 s.
    public var acceptorConfirmTimeout: TimeAmount
    /// Decoder caps. The relay lowers `maxChunkBytes` to `chunkLimit` (a bigger chunk closes the connection).
    public var wireLimits: WireLimits
    /// Bytes of unfinished packets all clients together may hold in the relay; the connection
    /// whose input crosses it is closed with the limit as reason. Default 128 MiB.
    public var inputBudgetBytes: Int
    /// Requests delivered to one member and not answered yet before it counts as overloaded.
    /// Default 65,536.
    public var maxPendingPerMember: Int
    /// Called on the core loop, at the end of a read batch, with the local interest that changed
    /// (clusters registered/unregistered with member counts, topics subscribed/unsubscribed).
    /// The overlay uses it to update the relay's own directory record. Default nil.
    public var interestObserver: (@Sendable ([RelayInterestChange]) -> Void)?
    /// Called on the core loop when something authenticated arrives from another relay (a
    /// session established, frames received), at most once per `peerActivityInterval` per relay.
    /// The overlay uses it as first-hand proof that the relay is alive, so hearsay about it does
    /// not tear down a session that still carries traffic. Default nil.
    public var peerActivityObserver: (@Sendable (NodeID) -> Void)?
    /// See `peerActivityObserver`. Default 250 ms.
    public var peerActivityInterval: TimeAmount
    /// Routing to other relays of an overlay (see `OverlayRouterSettings`); nil = a stand-alone relay
    /// that serves its local clients only. Default nil.
    public var overlay: OverlayRouterSettings?
    /// Per-cluster and per-topic keys (`Docs/cluster-keys.md`); replaced at run time with
    /// `RelayServer.updateClusterKeys`. Default: none.
    public var clusterKeys: ClusterKeyring = .empty
    /// Refuse every cluster and topic this relay holds no key for (`--protected-only`). Default false.
    public var protectedOnly = false

    public init() {
        hosts = ["127.0.0.1", "::1"]
        port = WireConstants.defaultPort
        handshakeTimeout = .seconds(5)
        outboundQueueLimitBytes = 8 * 1024 * 1024
        chunkLimit = WireConstants.referenceChunkLimit
        tunnelWindow = WireConstants.referenceRelayWindow
        acceptorConfirmTimeout = .seconds(3)
        wireLimits = .default
        inputBudgetBytes = 128 * 1024 * 1024
        maxPendingPerMember = 65_536
        interestObserver = nil
        peerActivityObserver = nil
        peerActivityInterval = .milliseconds(250)
        overlay = nil
    }

    /// Checks the values a relay cannot work with; `RelayServer.start` throws this error.
    public func validate() throws(RelayConfigurationError) {
        let maxValue = Int(WireConstants.maxInteroperableValue)
        guard (0...65535).contains(port) else { throw .init("port \(port) is not in 0...65535") }
        guard !hosts.isEmpty else { throw .init("no host to listen on") }
        guard (1...maxValue).contains(chunkLimit) else { throw .init("chunkLimit must be in 1...2^31-1") }
        guard (chunkLimit...maxValue).contains(tunnelWindow) else {
            throw .init("tunnelWindow must be at least chunkLimit (a chunk must fit the window) and at most 2^31-1")
        }
        guard outboundQueueLimitBytes >= 1 else { throw .init("outboundQueueLimitBytes must be positive") }
        guard inputBudgetBytes >= 1, maxPendingPerMember >= 1 else {
            throw .init("inputBudgetBytes and maxPendingPerMember must be positive")
        }
        guard handshakeTimeout.nanoseconds > 0, acceptorConfirmTimeout.nanoseconds > 0 else {
            throw .init("timeouts must be positive")
        }
    }

    /// The decoder limits the relay really applies.
    var effectiveWireLimits: WireLimits {
        var limits = wireLimits
        limits.maxChunkBytes = min(limits.maxChunkBytes, chunkLimit)
        return limits
    }
}

/// A `RelayConfiguration` value the relay cannot work with.
public struct RelayConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable machine-readable category.
    public enum Code: String, Sendable, Hashable {
        /// A value is outside what the relay can work with.
        case invalidValue
        /// Values that are valid alone contradict each other.
        case inconsistent
    }

    public let code: Code
    public let message: String
    public var description: String { message }

    init(_ message: String, code: Code = .invalidValue) {
        self.code = code
        self.message = message
    }
}

extension CoreConfiguration {
    /// The core's tunables from a relay's configuration.
    init(_ c: RelayConfiguration) {
        self.init()
        handshakeTimeout = c.handshakeTimeout
        outboundQueueLimitBytes = c.outboundQueueLimitBytes
        chunkLimit = c.chunkLimit
        tunnelWindow = c.tunnelWindow
        acceptorConfirmTimeout = c.acceptorConfirmTimeout
        inputBudgetBytes = c.inputBudgetBytes
        maxPendingPerMember = c.maxPendingPerMember
        overlay = c.overlay
        clusterKeys = c.clusterKeys
        protectedOnly = c.protectedOnly
    }
}
