import NIOCore
import PlexusVocabulary
import PlexusPeerWire
import PlexusWire

/// Data, credit and close of linked cross-relay tunnels (`BridgedTunnel`).
///
/// Each direction is a `TunnelBridgeSender` on the relay of the sending client and a
/// `TunnelBridgeReceiver` on the relay of the receiving client (`Docs/relay-to-relay.md` §5):
/// * client → relay: strict credit (W at link time, then the length of every chunk moved on to
///   the peer relay); a chunk beyond it is a protocol violation, as on one relay;
/// * relay → relay: strictly within the TUNNEL_ALLOW credit of the receiving relay (W at link
///   time, then the length of every chunk it wrote to its client), and only while the queue
///   toward that relay is under its soft bound, so tunnel data never crowds out requests and
///   fan-out on the same session and is never dropped by the link's hard bound;
/// * relay → client: the v1 §9.4 rules, and only when the client's outbound queue has room.
/// Hence at most W bytes per direction are buffered on each relay, and a receiver that stops
/// reading stops the sender's credit on the other relay.
extension RelayCore {
    static let peerOverrunReason = "plexus: relay sent tunnel data beyond its credit"

    /// Frame overhead allowed for when checking room for a TUNNEL_TRANSFER (type + 3 varints).
    private static let transferFrameOverhead = 32

    // MARK: Local client → peer relay

    /// C→R TUN_TRANSFER on a bridged tunnel.
    mutating func bridgedClientTransfer(_ id: UInt64, from client: ConnectionID, sizeOrContinuation: UInt64,
                                        chunk data: ByteBuffer) {
        guard let tunnel = router.remoteTunnels.bridged[id] else { return }
        var chunk = TunnelChunk(sizeOrContinuation: sizeOrContinuation, data: data)
        let movesAtOnce = tunnel.outbound.bufferedChunks == 0 && chunk.length <= tunnel.outbound.peerCredit
            && tunnelRoom(toward: tunnel.node, bytes: chunk.length)
        if !movesAtOnce { chunk.data = Self.compacted(data) } // a waiting chunk never pins a read buffer
        switch router.remoteTunnels.bridged[id]?.outbound.receiveFromClient(chunk) {
        case nil:
            return
        case .accepted:
            pumpBridgedOutbound(id)
        case .discardedOrphanContinuation(let credit):
            send(.tunnelAllow(id: tunnel.local.tunnelID, allowance: UInt64(credit)), to: client)
        case .overrun:
            drop(client, reason: "plexus: protocol violation: tunnel chunk beyond the granted allowance")
        }
    }

    /// TUNNEL_ALLOW from the peer relay: more chunks may go there.
    mutating func bridgedPeerAllow(_ id: UInt64, bytes: UInt64, from node: NodeID) {
        guard router.remoteTunnels.bridged[id]?.node == node else { return }
        router.remoteTunnels.bridged[id]?.outbound.peerGranted(bytes)
        pumpBridgedOutbound(id)
    }

    /// Whether a tunnel chunk of `bytes` may be queued toward `node` now: only under the soft
    /// bound (an empty queue always takes one chunk).
    func tunnelRoom(toward node: NodeID, bytes: Int) -> Bool {
        let queued = router.queuedBytes(to: node)
        return queued == 0 || queued + bytes + Self.transferFrameOverhead <= router.settings.peerQueueLimitBytes
    }

    /// Moves every chunk the peer's credit and the relay queue allow, returns their length to the
    /// client as TUN_ALLOW, and — once a closing tunnel has nothing left — sends TUNNEL_CLOSE.
    mutating func pumpBridgedOutbound(_ id: UInt64) {
        guard let tunnel = router.remoteTunnels.bridged[id] else { return }
        let node = tunnel.node
        let limit = router.settings.peerQueueLimitBytes
        var queued = router.queuedBytes(to: node)
        guard let release = router.remoteTunnels.bridged[id]?.outbound.release(hasRoom: { length in
            let size = length + Self.transferFrameOverhead
            guard queued == 0 || queued + size <= limit else { return false }
            queued += size
            return true
        }) else { return }
        for chunk in release.toPeer {
            let data = tunnel.sealing == nil ? chunk.data : sealTunnelChunk(chunk.data, id: id)
            sendPeer(.tunnelTransfer(tunnelID: tunnel.peerTunnelID, sizeOrContinuation: chunk.sizeOrContinuation,
                                     chunk: data), to: node, dial: tunnel.dials)
        }
        if release.clientGrant > 0, !tunnel.closing {
            send(.tunnelAllow(id: tunnel.local.tunnelID, allowance: UInt64(release.clientGrant)), to: tunnel.local.connection)
        }
        if (router.remoteTunnels.bridged[id]?.outbound.bufferedChunks ?? 0) > 0 {
            router.remoteTunnels.waiting[node, default: []].insert(id)
        } else if tunnel.closing {
            _ = router.remoteTunnels.remove(id)
            sendPeer(.tunnelClose(tunnelID: tunnel.peerTunnelID, reason: ByteBuffer()), to: node, dial: tunnel.dials)
        } else if let index = router.remoteTunnels.waiting.index(forKey: node) {
            router.remoteTunnels.waiting.values[index].remove(id)
            if router.remoteTunnels.waiting.values[index].isEmpty { router.remoteTunnels.waiting.remove(at: index) }
        }
    }

    /// Room appeared in the queue toward `node`: resume the tunnels waiting to send there.
    mutating func pumpRemoteTunnels(toward node: NodeID) {
        guard let waiting = router.remoteTunnels.waiting[node], tunnelRoom(toward: node, bytes: 0) else { return }
        let ids = waiting.sorted()
        let cursor = router.remoteTunnels.pumpCursor[node]
        let start = cursor.flatMap { last in ids.firstIndex { $0 > last } } ?? 0
        for id in ids[start...] + ids[..<start] {
            guard tunnelRoom(toward: node, bytes: 0) else { break }
            router.remoteTunnels.pumpCursor[node] = id
            pumpBridgedOutbound(id)
        }
    }

    // MARK: Peer relay → local client

    /// TUNNEL_TRANSFER from the peer relay.
    mutating func bridgedPeerTransfer(_ id: UInt64, sizeOrContinuation: UInt64, chunk data: ByteBuffer, from node: NodeID) {
        guard let tunnel = router.remoteTunnels.bridged[id], tunnel.node == node else { return }
        var data = data
        if tunnel.sealing != nil {
            guard let opened = openTunnelChunk(data, id: id, from: node) else { return }
            data = opened
        }
        if tunnel.closing {
            // The local end is gone: nobody reads this; keep the peer's credit whole.
            sendPeer(.tunnelAllow(tunnelID: tunnel.peerTunnelID, bytes: UInt64(data.readableBytes)), to: node, dial: tunnel.dials)
            return
        }
        var chunk = TunnelChunk(sizeOrContinuation: sizeOrContinuation, data: data)
        let mayWait = tunnel.inbound.bufferedBytes > 0 || !hasRoom(tunnel.local.connection, bytes: chunk.length + 16)
            || (chunk.startsMessage && tunnel.inbound.clientAllowance < Int64(chunk.length))
        if mayWait { chunk.data = Self.compacted(data) }
        switch router.remoteTunnels.bridged[id]?.inbound.receiveFromPeer(chunk) {
        case nil:
            return
        case .accepted:
            pumpBridgedInbound(id)
        case .discardedOrphanContinuation(let credit):
            sendPeer(.tunnelAllow(tunnelID: tunnel.peerTunnelID, bytes: UInt64(credit)), to: node, dial: tunnel.dials)
        case .overrun:
            guard let removed = router.remoteTunnels.remove(id) else { return }
            let reason = ByteBuffer(string: Self.peerOverrunReason)
            deliverClose(of: removed, reason: reason)
            sendPeer(.tunnelClose(tunnelID: removed.peerTunnelID, reason: reason), to: node, dial: removed.dials)
        }
    }

    /// C→R TUN_ALLOW on a bridged tunnel.
    mutating func bridgedClientAllow(_ id: UInt64, allowance: UInt64) {
        guard router.remoteTunnels.bridged[id] != nil else { return }
        router.remoteTunnels.bridged[id]?.inbound.clientGranted(allowance)
        pumpBridgedInbound(id)
    }

    /// Writes every chunk the §9.4 rules and the client's queue allow, and returns their length to
    /// the peer relay as one TUNNEL_ALLOW.
    mutating func pumpBridgedInbound(_ id: UInt64) {
        guard let tunnel = router.remoteTunnels.bridged[id], !tunnel.closing else { return }
        let client = tunnel.local.connection
        guard connections[client] != nil else { return }
        let limit = configuration.outboundQueueLimitBytes
        var queued = queuedBytes(of: client)
        guard let release = router.remoteTunnels.bridged[id]?.inbound.release(hasRoom: { length in
            guard queued == 0 || queued + length + 16 <= limit else { return false }
            queued += length + 16
            return true
        }) else { return }
        for chunk in release.toClient {
            sendTunnelChunk(chunk.data, sizeOrContinuation: chunk.sizeOrContinuation, tunnelID: tunnel.local.tunnelID, to: client)
        }
        if release.peerGrant > 0 {
            sendPeer(.tunnelAllow(tunnelID: tunnel.peerTunnelID, bytes: UInt64(release.peerGrant)), to: tunnel.node,
                     dial: tunnel.dials)
        }
    }

    /// A client's socket drained: resume its bridged tunnels that wait for room in its queue.
    mutating func pumpBridgedTunnels(toward client: ConnectionID) {
        guard let ids = connections[client]?.bridgedTunnels, !ids.isEmpty else { return }
        for (_, id) in ids where (router.remoteTunnels.bridged[id]?.inbound.bufferedBytes ?? 0) > 0 {
            pumpBridgedInbound(id)
        }
    }

    // MARK: Close

    /// The local end closed (TUN_CLOSE, already acknowledged by the caller, and its mapping
    /// removed) or its connection ended: nothing more goes to it; chunks it sent still move on to
    /// the peer (within credit), then TUNNEL_CLOSE tells the peer relay.
    mutating func closeBridgedFromClient(_ id: UInt64) {
        guard router.remoteTunnels.bridged[id] != nil else { return }
        router.remoteTunnels.bridged[id]?.closing = true
        _ = router.remoteTunnels.bridged[id]?.inbound.drainForClose() // nobody will read it
        pumpBridgedOutbound(id)
    }

    /// TUNNEL_CLOSE from the peer relay: the local end gets every chunk still buffered for it,
    /// then TUN_CLOSE with the peer's reason. A tunnel whose local end already closed is just
    /// forgotten (simultaneous close: each end gets one TUN_CLOSE).
    mutating func bridgedPeerClose(_ id: UInt64, reason: ByteBuffer, from node: NodeID) {
        guard router.remoteTunnels.bridged[id]?.node == node, let tunnel = router.remoteTunnels.remove(id) else { return }
        deliverClose(of: tunnel, reason: reason)
    }

    /// Flushes what `tunnel` (already removed) buffered for its local end, then TUN_CLOSE(reason),
    /// unless the local end closed first.
    mutating func deliverClose(of tunnel: BridgedTunnel, reason: ByteBuffer) {
        guard !tunnel.closing else { return }
        let end = tunnel.local
        connections[end.connection]?.bridgedTunnels[end.tunnelID] = nil
        var inbound = tunnel.inbound
        for chunk in inbound.drainForClose() {
            sendTunnelChunk(chunk.data, sizeOrContinuation: chunk.sizeOrContinuation, tunnelID: end.tunnelID, to: end.connection)
        }
        send(.tunnelClose(id: end.tunnelID, reason: reason), to: end.connection)
    }

    /// A copy of `slice` in a buffer of its own.
    static func compacted(_ slice: ByteBuffer) -> ByteBuffer {
        var copy = ByteBufferAllocator().buffer(capacity: slice.readableBytes)
        copy.writeImmutableBuffer(slice)
        return copy
    }
}
