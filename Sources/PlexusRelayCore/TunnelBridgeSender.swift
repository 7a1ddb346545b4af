import DequeModule

/// The initiating side of one tunnel direction that spans two relays: chunks from this relay's
/// local client, forwarded to the peer relay.
///
/// Guarantees:
/// * The local client only gets credit this relay can hold: `window` when the tunnel is linked
///   (`initialClientGrant`), then the length of every chunk that moves on to the peer. A chunk
///   beyond the client's credit is `.overrun`. Hence `bufferedBytes ≤ window` always.
/// * Chunks go to the peer relay strictly within the credit the peer granted (TUNNEL_ALLOW
///   frames): no "send anyway" between relays, so the peer's buffer stays within its own window.
///   The v1 "send anyway" rules apply only toward the receiving client (`TunnelBridgeReceiver`).
/// * Order is preserved: chunks leave in the order they arrived.
/// * Requires every chunk to be at most the peer's window (the chunk limit L ≤ W), otherwise the
///   head chunk could never be released.
public struct TunnelBridgeSender: Sendable {
    /// The bound on bytes buffered here, and the client's initial credit.
    public let window: Int
    /// Credit granted to the local client and not used yet.
    public private(set) var clientCredit: Int
    /// Credit the peer relay granted and this relay has not used yet.
    public private(set) var peerCredit: Int = 0
    public private(set) var bufferedBytes = 0
    private var buffer = Deque<TunnelChunk>()
    private var received = MessageProgress()

    public init(window: Int) {
        precondition(window > 0, "a tunnel window must be positive")
        self.window = window
        clientCredit = window
    }

    /// Send to the local client as R→C TUN_ALLOW right after the tunnel is linked.
    public var initialClientGrant: Int { window }

    /// A C→R TUN_TRANSFER from the local client.
    public mutating func receiveFromClient(_ chunk: TunnelChunk) -> ChunkArrival {
        guard chunk.length <= clientCredit else { return .overrun }
        if !chunk.startsMessage && !received.inProgress {
            // The client charged its own allowance for it: give that back so both views agree.
            return .discardedOrphanContinuation(creditToReturn: chunk.length)
        }
        received.advance(over: chunk)
        clientCredit -= chunk.length
        bufferedBytes += chunk.length
        buffer.append(chunk)
        return .accepted
    }

    /// A TUNNEL_ALLOW frame from the peer relay.
    public mutating func peerGranted(_ bytes: UInt64) {
        let (sum, overflow) = peerCredit.addingReportingOverflow(Int(clamping: bytes))
        peerCredit = overflow ? .max : sum
    }

    /// What to do now: chunks to send to the peer as TUNNEL_TRANSFER (in order) and the credit
    /// to grant the local client as R→C TUN_ALLOW (0 = send nothing).
    public struct Release: Equatable, Sendable {
        public var toPeer: [TunnelChunk] = []
        public var clientGrant = 0

        public init() {}
    }

    /// Releases every head chunk the peer's credit covers.
    public mutating func release() -> Release {
        release(hasRoom: { _ in true })
    }

    /// Releases every head chunk the peer's credit covers while `hasRoom(length)` also holds
    /// (e.g. the queue toward the peer relay has room). `hasRoom` is asked once per chunk, in
    /// order, and only for a chunk the credit covers; `true` means that chunk is released.
    public mutating func release(hasRoom: (Int) -> Bool) -> Release {
        var result = Release()
        while let head = buffer.first, head.length <= peerCredit, hasRoom(head.length) {
            buffer.removeFirst()
            peerCredit -= head.length
            bufferedBytes -= head.length
            clientCredit += head.length
            result.clientGrant += head.length
            result.toPeer.append(head)
        }
        return result
    }

    /// Chunks still buffered (e.g. to flush before a close when the peer's credit allows).
    public var bufferedChunks: Int { buffer.count }
}
