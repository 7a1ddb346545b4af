import NIOCore
import PlexusVocabulary
import PlexusPeerWire

/// A tunnel construction this relay sent to another relay (TUNNEL_INIT) and that is not answered
/// yet: the initiating client waits for its TUN_RESULT.
struct PendingRemoteTunnel: Sendable {
    var initiator: TunnelEnd
    var node: NodeID
    /// Set for a protected cluster: the linked tunnel's chunks travel sealed.
    var sealing: LocalKeys? = nil
}

/// A linked tunnel with its local end on this relay and the other end on relay `node`.
///
/// This relay holds one half of each direction: `outbound` (local client → peer relay,
/// `TunnelBridgeSender`) and `inbound` (peer relay → local client, `TunnelBridgeReceiver`), each
/// buffering at most `window` bytes. Frames to the peer carry `peerTunnelID`; frames from the peer
/// name this relay's id (the key in `RemoteTunnelState.bridged`).
struct BridgedTunnel: Sendable {
    var local: TunnelEnd
    var node: NodeID
    var peerTunnelID: UInt64
    var outbound: TunnelBridgeSender
    var inbound: TunnelBridgeReceiver
    /// Whether this relay initiated the tunnel (it dials the peer for its frames; the acceptor
    /// side answers on the existing session, like request replies).
    var dials: Bool
    /// The local end is gone (TUN_CLOSE acknowledged, or its connection ended): nothing more goes
    /// to the client; the tunnel stays only until every chunk the client sent has moved on to the
    /// peer, then TUNNEL_CLOSE is sent and the tunnel forgotten.
    var closing = false
    /// Set for a protected cluster: every chunk to the peer is sealed, every chunk from it opened,
    /// each bound to its number in its direction (`sentChunks`, `receivedChunks`).
    var sealing: LocalKeys? = nil
    var sentChunks: UInt64 = 0
    var receivedChunks: UInt64 = 0
}

/// Every cross-relay tunnel of this relay: constructions in flight and linked tunnels, both keyed
/// by an id this relay allocates (one counter for both roles).
struct RemoteTunnelState: Sendable {
    private(set) var nextID: UInt64 = 0
    /// Initiating side, by the id sent in TUNNEL_INIT.
    var pending: [UInt64: PendingRemoteTunnel] = [:]
    /// Linked tunnels, by this relay's id.
    var bridged: [UInt64: BridgedTunnel] = [:]
    /// Tunnels with chunks still waiting to go to a relay (for credit or for queue room), pumped
    /// again when that relay's queue drains.
    var waiting: [NodeID: Set<UInt64>] = [:]
    /// The last tunnel pumped toward each relay: the next round starts after it, so tunnels
    /// sharing a busy session take turns.
    var pumpCursor: [NodeID: UInt64] = [:]

    mutating func allocateID() -> UInt64 {
        defer { nextID &+= 1 }
        return nextID
    }

    /// Forgets a linked tunnel.
    mutating func remove(_ id: UInt64) -> BridgedTunnel? {
        guard let tunnel = bridged.removeValue(forKey: id) else { return nil }
        if let index = waiting.index(forKey: tunnel.node) {
            waiting.values[index].remove(id)
            if waiting.values[index].isEmpty { waiting.remove(at: index) }
        }
        return tunnel
    }
}
