import Logging
import NIOCore
import PlexusCrypto
import PlexusFederation
import PlexusPeerWire
import PlexusVocabulary

/// Everything a gateway needs. Every property is a `var`; `init` gives the defaults.
public struct GatewayConfiguration: Sendable {
    /// This relay's identity (the same static key as its relay-to-relay sessions).
    public var identity: StaticIdentity
    /// The federation key (primary) and keys still accepted during a rotation. Distinct from any
    /// network key: a gateway without it is refused during the handshake and learns nothing.
    public var federationKeyring: Keyring
    /// This overlay's name.
    public var overlay: OverlayName
    /// Where the gateway listens (`--gateway-port`); port 0 picks a free one.
    public var host: String
    public var port: Int
    /// Gateways of other overlays to link to (`--gateway-join HOST:PORT`, DNS names allowed).
    public var joins: [(host: String, port: Int)]
    /// Delay between attempts to (re)link to a join target. Default 1 s.
    public var redialInterval: TimeAmount
    /// Most links at once (accepted and dialed); more are closed at once. Default 64.
    public var maxLinks: Int
    /// The router's settings (queue bound, ping interval): `overlay` and `identity` fill the rest.
    public var linkQueueLimitBytes: Int
    public var handshakeTimeout: TimeAmount
    public var logger: Logger

    public init(identity: StaticIdentity, federationKeyring: Keyring, overlay: OverlayName, host: String, port: Int,
                joins: [(host: String, port: Int)] = [], logger: Logger = Logger(label: "plexus.gateway")) {
        self.identity = identity
        self.federationKeyring = federationKeyring
        self.overlay = overlay
        self.host = host
        self.port = port
        self.joins = joins
        redialInterval = .seconds(1)
        maxLinks = 64
        linkQueueLimitBytes = 8 * 1024 * 1024
        handshakeTimeout = .seconds(5)
        self.logger = logger
    }

    var routerSettings: GatewayRouterSettings {
        var settings = GatewayRouterSettings(overlay: overlay, gateway: identity.nodeID)
        settings.linkQueueLimitBytes = linkQueueLimitBytes
        return settings
    }
}

/// What the gateway does to the relay next to it. Called on the gateway's event loop.
public struct GatewayHooks: Sendable {
    /// The answer to `GatewayEndpoint.request(ticket:…)`.
    public var requestAnswered: @Sendable (_ ticket: UInt64, _ outcome: PeerReplyOutcome) -> Void
    /// A request from another overlay: deliver in this one and answer with `GatewayEndpoint.answer`.
    public var deliverRequest: @Sendable (_ ticket: UInt64, _ cluster: ByteBuffer, _ payload: ByteBuffer, _ millisecondsLeft: UInt64) -> Void
    public var deliverBroadcast: @Sendable (_ cluster: ByteBuffer, _ message: ByteBuffer) -> Void
    public var deliverEvent: @Sendable (_ topic: ByteBuffer, _ event: ByteBuffer) -> Void
    /// What other overlays serve and want changed: (overlay, clusters, topics) per overlay.
    public var remoteInterestChanged: @Sendable (_ interest: [OverlayName: (clusters: Set<String>, topics: Set<String>)]) -> Void
    /// A tunnel from another overlay: hand TUNNEL_INIT(id, cluster, ms-left) to the relay core as
    /// from `FederatedTunnels.gatewayNode` (`GatewayAction.openTunnel`).
    public var openTunnel: @Sendable (_ tunnelID: UInt64, _ cluster: ByteBuffer, _ millisecondsLeft: UInt64) -> Void
    /// A relay-to-relay tunnel frame for `relay`, through the relay core (`GatewayAction.tunnelToRelay`).
    public var tunnelToRelay: @Sendable (_ relay: NodeID, _ frame: PeerFrame) -> Void
    /// A broadcast or event the relay handed over for `overlay` left the gateway (written,
    /// refused or unwanted): `bytes` (name + message length) for the relay's back-pressure count.
    public var drained: @Sendable (_ overlay: OverlayName, _ bytes: Int) -> Void

    public init(requestAnswered: @escaping @Sendable (UInt64, PeerReplyOutcome) -> Void,
                deliverRequest: @escaping @Sendable (UInt64, ByteBuffer, ByteBuffer, UInt64) -> Void,
                deliverBroadcast: @escaping @Sendable (ByteBuffer, ByteBuffer) -> Void,
                deliverEvent: @escaping @Sendable (ByteBuffer, ByteBuffer) -> Void,
                remoteInterestChanged: @escaping @Sendable ([OverlayName: (clusters: Set<String>, topics: Set<String>)]) -> Void,
                openTunnel: @escaping @Sendable (UInt64, ByteBuffer, UInt64) -> Void = { _, _, _ in },
                tunnelToRelay: @escaping @Sendable (NodeID, PeerFrame) -> Void = { _, _ in },
                drained: @escaping @Sendable (OverlayName, Int) -> Void = { _, _ in }) {
        self.requestAnswered = requestAnswered
        self.deliverRequest = deliverRequest
        self.deliverBroadcast = deliverBroadcast
        self.deliverEvent = deliverEvent
        self.remoteInterestChanged = remoteInterestChanged
        self.openTunnel = openTunnel
        self.tunnelToRelay = tunnelToRelay
        self.drained = drained
    }
}
