import NIOCore

/// One tunnel chunk as relay protocol v1 §9.3 defines it: `sizeOrContinuation` is the total
/// message size on a message's first chunk and 0 on its continuations; `data` is non-empty.
public struct TunnelChunk: Equatable, Sendable {
    public var sizeOrContinuation: UInt64
    public var data: ByteBuffer

    public init(sizeOrContinuation: UInt64, data: ByteBuffer) {
        self.sizeOrContinuation = sizeOrContinuation
        self.data = data
    }

    /// Payload bytes: what credit and allowance count.
    public var length: Int { data.readableBytes }
    /// Whether this chunk starts a message.
    public var startsMessage: Bool { sizeOrContinuation != 0 }
}

/// Tracks how much of the current message in one chunk stream is still to come.
///
/// Guarantees: `inProgress` is true exactly when the last chunk seen started or continued a
/// message that has not reached its announced size yet.
struct MessageProgress: Sendable {
    private(set) var remaining: UInt64 = 0

    var inProgress: Bool { remaining > 0 }

    mutating func advance(over chunk: TunnelChunk) {
        let length = UInt64(chunk.length)
        let base = chunk.startsMessage ? chunk.sizeOrContinuation : remaining
        remaining = base > length ? base - length : 0
    }
}

/// What a tunnel direction does with a chunk that arrived within or beyond its credit.
public enum ChunkArrival: Equatable, Sendable {
    /// Buffered for forwarding.
    case accepted
    /// The chunk exceeds the credit granted: the sender broke flow control (close the tunnel, or
    /// for a client, treat it as the protocol violation v1 makes it).
    case overrun
    /// A continuation with no message in progress: dropped; its length is credit to give back at
    /// once (`creditToReturn`), so the sender's accounting stays right.
    case discardedOrphanContinuation(creditToReturn: Int)
}
