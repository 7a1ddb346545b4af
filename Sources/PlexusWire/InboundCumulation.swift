import NIOCore

/// The undecoded bytes of one inbound stream and the packets they hold: what NIO's
/// `ByteToMessageHandler` does around `ClientPacketDecoder`/`RelayPacketDecoder`, without its
/// `NIOAny` box and pipeline hop per packet, so the one handler that owns it gets each packet as
/// a plain value (Docs/benchmarks.md, issue 15).
///
/// Guarantees: packets come out in arrival order whatever the split of the reads (the decoders'
/// own guarantee); a malformed packet throws the decoder's `WireError`, and packets before it have
/// already come out. Memory: after `readComplete()` it holds nothing, or only the bytes of the
/// one unfinished packet at the end of the stream (in the storage of the read they came in, or a
/// copy of them if packets decoded earlier still share that storage); the owner bounds that with
/// `WireLimits` and its input budget, as before.
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
        // Appended in place (amortised growth), so a large packet arriving in many reads is
        // copied once, not once per read; copy-on-write keeps slices already handed out intact.
        buffer.writeImmutableBuffer(incoming)
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
    /// reuse its receive buffer); the start of an unfinished packet is moved to the front, so the
    /// bytes already decoded are not kept.
    public mutating func readComplete() {
        if buffer.readableBytes == 0 {
            buffer = Self.empty
        } else if buffer.readerIndex > 0 {
            buffer.discardReadBytes()
        }
    }

    /// Drops everything buffered (after a decoding error or at the end of the stream).
    public mutating func discard() {
        buffer = Self.empty
    }
}
