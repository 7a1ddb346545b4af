import NIOCore
import PlexusVocabulary

/// One tunnel that crosses this gateway: one end in this overlay (reached through a relay, the
/// relay side), the other through a link to another overlay (the link side).
///
/// The gateway only renames ids and passes frames on, in order: credit is end to end (the
/// relays at both ends grant it), so what is in flight through the gateway for one tunnel is at
/// most one window per direction — the gateway never buffers a tunnel of its own.
struct SplicedTunnel: Sendable {
    enum Side: Sendable, Equatable {
        /// A client of this overlay opened it (the relay side sent TUNNEL_INIT).
        case initiating
        /// A client of the other overlay opened it (the link side sent TUNNEL_INIT).
        case accepting
    }

    var side: Side
    var link: GatewayLinkID
    /// The other gateway's id for the tunnel (initiating: from its CONFIRM; accepting: from its INIT).
    var linkTunnelID: UInt64?
    /// The relay holding this overlay's end (accepting: learned from its CONFIRM).
    var relay: NodeID?
    /// That relay's id for the tunnel (initiating: from its INIT; accepting: from its CONFIRM).
    var relayTunnelID: UInt64?
    /// Until both sides are linked: when the construction is given up.
    var deadline: NIODeadline?

    var isLinked: Bool { linkTunnelID != nil && relayTunnelID != nil && relay != nil }
}
