import NIOCore
import PlexusPeerWire
import PlexusVocabulary

/// Identifies one gateway link (one Noise session to a gateway of another overlay), allocated by
/// the shell; never reused within a process.
public struct GatewayLinkID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let value: UInt64
    public init(_ value: UInt64) { self.value = value }
    public static func < (lhs: GatewayLinkID, rhs: GatewayLinkID) -> Bool { lhs.value < rhs.value }
    public var description: String { "link#\(value)" }
}

/// A request this overlay sent through a gateway link, named by the caller's ticket.
public typealias GatewayTicket = UInt64

/// Where traffic entering the router came from. Traffic that arrived from another overlay is
/// never sent to a third one (no loops).
public enum TrafficOrigin: Sendable, Equatable {
    /// A client or relay of this overlay.
    case localOverlay
    /// A gateway link from `overlay`.
    case remoteOverlay(OverlayName)
}

/// What the shell must do after a `GatewayRouter` call, in order.
public enum GatewayAction: Sendable, Equatable {
    /// Encode and write `frame` on `link`.
    case send(GatewayLinkID, GatewayFrame)
    /// Close `link`, logging `reason` (protocol violation, same overlay, out-of-order interest).
    case close(GatewayLinkID, reason: String)
    /// A request sent through a link ended: answer the caller's `ticket` with `outcome`.
    case complete(GatewayTicket, PeerReplyOutcome)
    /// A remote overlay asks this overlay for one member of `cluster`: deliver it with
    /// `millisecondsLeft`, then call `GatewayRouter.answer(link:requestID:outcome:)`.
    case deliverRequest(GatewayLinkID, requestID: UInt64, cluster: ByteBuffer, millisecondsLeft: UInt64, payload: ByteBuffer)
    /// Deliver `message` to every member of `cluster` in this overlay (never to another gateway).
    case deliverBroadcast(from: OverlayName, cluster: ByteBuffer, message: ByteBuffer)
    /// Deliver `event` to every subscriber of `topic` in this overlay (never to another gateway).
    case deliverEvent(from: OverlayName, topic: ByteBuffer, event: ByteBuffer)
    /// The interest of remote overlays changed: re-announce it in this relay's directory record
    /// (`GatewayRouter.remoteInterest`).
    case remoteInterestChanged
    /// A tunnel from another overlay: hand TUNNEL_INIT(`tunnelID`, …) to this gateway's relay
    /// core as from `FederatedTunnels.gatewayNode`; its answers come back through
    /// `GatewayRouter.tunnelFromRelay`.
    case openTunnel(tunnelID: UInt64, cluster: ByteBuffer, millisecondsLeft: UInt64)
    /// Give this relay-to-relay tunnel frame to `relay` (through this gateway's relay core; to
    /// the core itself when `relay` is `FederatedTunnels.gatewayNode`).
    case tunnelToRelay(NodeID, PeerFrame)
    /// `link` had no room for a frame (its queue is over the bound): it was refused, and counted.
    case overloaded(GatewayLinkID, what: String)
}
