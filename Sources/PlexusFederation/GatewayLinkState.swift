import NIOCore
import PlexusVocabulary

/// One link as the router sees it.
struct GatewayLinkState: Sendable {
    enum Phase: Sendable, Equatable {
        /// Opened; HELLO sent, the peer's not yet received.
        case awaitingHello
        /// The peer said HELLO: its overlay and node id.
        case ready(overlay: OverlayName, gateway: NodeID)
    }

    var phase: Phase = .awaitingHello
    var interest = RemoteInterest()
    /// Encoded bytes handed to the link and not yet written to the socket.
    var queuedBytes = 0
    /// Requests sent on this link, awaiting a reply.
    var pendingRequests = 0
    /// Requests received on this link and not yet answered.
    var servedRequests: Set<UInt64> = []
    var lastPingSent: (nonce: UInt64, at: NIODeadline)?
    var nextPingAt: NIODeadline
    var roundTrip: TimeAmount?
    var refusedFrames = 0
    var framesSent = 0
    var framesReceived = 0
    /// Last event sequence delivered per publisher (events at or below it are dropped).
    var lastSequence: [NodeID: UInt64] = [:]
    var droppedOutOfOrder = 0

    var overlay: OverlayName? {
        if case .ready(let overlay, _) = phase { return overlay }
        return nil
    }
}

/// What `GatewayRouter.status` reports for one link (shown by `plexus status`).
public struct GatewayLinkStatus: Sendable, Equatable {
    public var link: GatewayLinkID
    /// Nil until the peer's HELLO arrived.
    public var overlay: OverlayName?
    public var gateway: NodeID?
    public var queuedBytes: Int
    public var pendingRequests: Int
    public var servedRequests: Int
    public var roundTrip: TimeAmount?
    /// Frames refused because the queue was over its bound.
    public var refusedFrames: Int
    /// Events dropped because their sequence was not above the publisher's last one.
    public var droppedOutOfOrder: Int
    /// Tunnels across overlays spliced through this link.
    public var tunnels: Int = 0
    public var remoteClusters: [String]
    public var remoteTopics: [String]
}
