import NIOCore

/// The undecoded bytes of one inbound stream and the packets they hold: what NIO's
/// `ByteToMessageHandler` does around `ClientPacketDecoder`/`RelayPacketDecoder`, without its
/// `NIOAny` box and pipeline hop per packet, so the one handler that owns it gets each packet as
/// a plain value (Docs/benchmarks.md, issue 15).
///
/// Guarantees: packets come out in arrival order whatever the split of the reads (the decoders'
/// own guarantee); a malformed packet throws the decoder's `WireError`, and packets before it have
/// already come out. Memory: after `readComplete()` it holds nothing, or only the bytes of the
/// one unfinished packet at the end of the stream (the read they came in stays referenced until
/// the next read arrives, then they are copied into a fresh buffer with it); the owner bounds that
/// with `WireLimits` and its input budget, as before.
public struct InboundCumulation {
    private var buffer: ByteBuffer
    private static let empty = ByteBuffer()

    public init() {
        buffer = Self.empty
    }

    /// Bytes received and not yet decoded (the start of an unfinished packet).
    public var bufferedBytes: Int { buffer.readableBytes }

    /// Adds one read's bytes behind what is buffered.
    public mutating func append(_ incoming: ByteBuffer) {
        guard buffer.readableBytes > 0 else {
            buffer = incoming  // the common case: no copy
            return
        }
        var joined = ByteBufferAllocator().buffer(capacity: buffer.readableBytes + incoming.readableBytes)
        joined.writeBuffer(&buffer)
        joined.writeImmutableBuffer(incoming)
        buffer = joined
    }

    /// The next whole client → relay packet, or nil until more bytes arrive.
    public mutating func nextClientPacket(limits: WireLimits) throws(WireError) -> ClientPacket? {
        try ClientPacket.decode(from: &buffer, limits: limits)
    }

    /// The next whole relay → client packet, or nil until more bytes arrive.
    public mutating func nextRelayPacket(limits: WireLimits) throws(WireError) -> RelayPacket? {
        try RelayPacket.decode(from: &buffer, limits: limits)
    }

    /// Call when a read's packets were taken: a fully decoded read is let go at once (so NIO can
    /// reuse its receive buffer).
    public mutating func readComplete() {
        if buffer.readableBytes == 0 { buffer = Self.empty }
    }

    /// Drops everything buffered (after a decoding error or at the end of the stream).
    public mutating func discard() {
        buffer = Self.empty
    }
}
