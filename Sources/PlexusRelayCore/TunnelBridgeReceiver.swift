import DequeModule

/// The accepting side of one tunnel direction that spans two relays: chunks from the peer relay,
/// written to this relay's local client.
///
/// Guarantees:
/// * The peer relay gets credit `window` when the tunnel is linked (`initialPeerGrant`), then
///   the length of every chunk written to the local client (or discarded). A chunk beyond the
///   granted credit is `.overrun`. Hence `bufferedBytes ≤ window` always.
/// * Toward the client, relay protocol v1 §9.4 holds: a continuation chunk, and a first chunk that
///   starts a new message while the previously written message is incomplete, are written
///   without waiting for allowance; any other first chunk waits until allowance ≥ its length.
///   Allowance is decremented by every written chunk and may go negative.
/// * Independently of allowance a chunk moves only when `hasRoom(length)` holds (the client's
///   outbound queue has room), so a client that does not read withholds the peer's credit, and
///   through it the sending client's credit on the other relay: credit holds end to end.
/// * Order is preserved.
public struct TunnelBridgeReceiver: Sendable {
    /// The bound on bytes buffered here, and the peer relay's initial credit.
    public let window: Int
    /// Credit granted to the peer relay and not used yet.
    public private(set) var peerCredit: Int
    /// Allowance the local client granted and not used yet (may be negative).
    public private(set) var clientAllowance: Int64 = 0
    public private(set) var bufferedBytes = 0
    private var buffer = Deque<TunnelChunk>()
    private var received = MessageProgress()
    private var written = MessageProgress()

    public init(window: Int) {
        precondition(window > 0, "a tunnel window must be positive")
        self.window = window
        peerCredit = window
    }

    /// Send to the peer relay as TUNNEL_ALLOW right after the tunnel is linked.
    public var initialPeerGrant: Int { window }

    /// A TUNNEL_TRANSFER frame from the peer relay.
    public mutating func receiveFromPeer(_ chunk: TunnelChunk) -> ChunkArrival {
        guard chunk.length <= peerCredit else { return .overrun }
        if !chunk.startsMessage && !received.inProgress {
            return .discardedOrphanContinuation(creditToReturn: chunk.length)
        }
        received.advance(over: chunk)
        peerCredit -= chunk.length
        bufferedBytes += chunk.length
        buffer.append(chunk)
        return .accepted
    }

    /// A C→R TUN_ALLOW from the local client.
    public mutating func clientGranted(_ bytes: UInt64) {
        let (sum, overflow) = clientAllowance.addingReportingOverflow(Int64(clamping: bytes))
        clientAllowance = overflow ? .max : sum
    }

    /// Whether the head chunk may be written now under the §9.4 rules (ignoring queue room).
    public var headIsReleasable: Bool {
        guard let head = buffer.first else { return false }
        if !head.startsMessage || written.inProgress { return true }   // the two "send anyway" rules
        return clientAllowance >= Int64(head.length)
    }

    /// What to do now: chunks to write to the local client as R→C TUN_TRANSFER (in order) and the
    /// credit to return to the peer relay as TUNNEL_ALLOW (0 = send nothing).
    public struct Release: Equatable, Sendable {
        public var toClient: [TunnelChunk] = []
        public var peerGrant = 0

        public init() {}
    }

    /// Writes every head chunk the rules and `hasRoom` allow.
    public mutating func release(hasRoom: (Int) -> Bool) -> Release {
        var result = Release()
        while headIsReleasable, let head = buffer.first, hasRoom(head.length) {
            result.toClient.append(popHead())
            result.peerGrant += head.length
        }
        return result
    }

    /// Everything still buffered, regardless of allowance: flushed to the client before it is
    /// told the tunnel closed (v1 §9.5 SHOULD).
    public mutating func drainForClose() -> [TunnelChunk] {
        var chunks: [TunnelChunk] = []
        while !buffer.isEmpty { chunks.append(popHead()) }
        return chunks
    }

    private mutating func popHead() -> TunnelChunk {
        let chunk = buffer.removeFirst()
        bufferedBytes -= chunk.length
        peerCredit += chunk.length
        clientAllowance -= Int64(chunk.length)
        written.advance(over: chunk)
        return chunk
    }
}
