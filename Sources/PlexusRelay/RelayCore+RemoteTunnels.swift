import NIOCore
import PlexusRouting
import PlexusWire

/// Tunnels whose two ends are on different relays.
extension RelayCore {
    static let remoteTunnelsUnsupported = "plexus: cross-relay tunnels are not supported by this relay"

    /// A tunnel frame from relay `node`.
    mutating func receiveTunnelFrame(_ frame: PeerFrame, from node: PeerID, now: NIODeadline) {
        if case let .tunnelInit(tunnelID, _, _) = frame {
            sendPeer(.tunnelRefuse(initiatorTunnelID: tunnelID, reason: ByteBuffer(string: Self.remoteTunnelsUnsupported)),
                     to: node, dial: false)
        }
    }

    /// `node` failed: close every tunnel that crosses to it.
    mutating func remoteTunnelsPeerFailed(_ node: PeerID) {}

    /// Room appeared in the queue toward `node`.
    mutating func pumpRemoteTunnels(toward node: PeerID) {}

    /// The earliest deadline of a cross-relay tunnel construction.
    var nextRemoteTunnelDeadline: NIODeadline? { nil }
}
