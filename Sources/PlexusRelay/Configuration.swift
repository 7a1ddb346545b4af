import NIOCore
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

    public init() {
        hosts = ["127.0.0.1", "::1"]
        port = WireConstants.defaultPort
        handshakeTimeout = .seconds(5)
        outboundQueueLimitBytes = 8 * 1024 * 1024
        chunkLimit = WireConstants.referenceChunkLimit
        tunnelWindow = WireConstants.referenceRelayWindow
        acceptorConfirmTimeout = .seconds(3)
        wireLimits = .default
    }

    /// The decoder limits the relay really applies.
    var effectiveWireLimits: WireLimits {
        var limits = wireLimits
        limits.maxChunkBytes = min(limits.maxChunkBytes, chunkLimit)
        return limits
    }
}
