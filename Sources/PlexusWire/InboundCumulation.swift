import NIOCore

/// The undecoded bytes of one inbound stream and the packets they hold: what NIO's
/// `ByteToMessageHandler` does around `ClientPacketDecoder`/`RelayPacketDecoder`, without its
/// `NIOAny` box and pipeline hop per packet, so the one handler that owns it gets each packet as
/// a plain value (Docs/benchmarks.md, issue 15).
///
/// Guarantees: packets come out in arrival order whatever the split of the reads (the decoders'
/// own guarantee); a malformed packet throws the decoder's `WireError`, and packets before it have
/// already come out. Copies: a read is decoded in place (packets are slices of it); only the one
/// packet that straddles two reads is joined, by copying the unfinished start and as much of the
/// next read as that packet needs (found by doubling a prefix, so a packet of any size is copied
/// O(its size) times, never the whole next read). Memory: after `readComplete()` it holds nothing,
/// or only the bytes of the one unfinished packet at the end of the stream (a compact copy when
/// packets decoded earlier still share their storage); the owner bounds that with `WireLimits`
/// and its input budget, as before.
public struct InboundCumulation {
    /// The bytes being decoded: one read, or the unfinished packet carried over from earlier reads.
    private var buffer: ByteBuffer
    /// A read that arrived while `buffer` held an unfinished packet: decoded in place once that
    /// packet is joined from `buffer` and a prefix of it.
    private var source: ByteBuffer?
    private static let empty = ByteBuffer()
    /// Named limit: the first prefix of the next read tried for a straddling packet (at least
    /// twice the unfinished part); each further try doubles what was appended.
    static let firstJoinBytes = 2048

    public init() {
        buffer = Self.empty
    }

    /// Bytes received and not yet decoded (the start of an unfinished packet).
    public var bufferedBytes: Int { buffer.readableBytes + (source?.readableBytes ?? 0) }

    /// Adds one read's bytes behind what is buffered.
    public mutating func append(_ incoming: ByteBuffer) {
        if var pending = source {
            // Two reads before any decoding (not how the owners call it): keep one source.
            source = nil
            pending.writeImmutableBuffer(incoming)
            source = pending
        } else if buffer.readableBytes == 0 {
            buffer = incoming  // the common case: no copy
        } else {
            source = incoming
        }
    }

    /// The next whole client → relay packet, or nil until more bytes arrive.
    public mutating func nextClientPacket(limits: WireLimits) throws(WireError) -> ClientPacket? {
        if source != nil { return try join { (bytes: inout ByteBuffer) throws(WireError) in try ClientPacket.decode(from: &bytes, limits: limits) } }
        return try ClientPacket.decode(from: &buffer, limits: limits)
    }

    /// The next whole relay → client packet, or nil until more bytes arrive.
    public mutating func nextRelayPacket(limits: WireLimits) throws(WireError) -> RelayPacket? {
        if source != nil { return try join { (bytes: inout ByteBuffer) throws(WireError) in try RelayPacket.decode(from: &bytes, limits: limits) } }
        return try RelayPacket.decode(from: &buffer, limits: limits)
    }

    /// Decodes the packet that starts in `buffer` and ends in `source`: appends growing prefixes
    /// of `source` to `buffer` (in place, amortised) until the packet decodes or all of `source`
    /// is appended. On success decoding continues in `source`, past the bytes the packet took.
    private mutating func join<Packet>(_ decode: (inout ByteBuffer) throws(WireError) -> Packet?) throws(WireError) -> Packet? {
        guard let pending = source else { return try decode(&buffer) }
        let carried = buffer.readableBytes
        var appended = 0
        var step = max(Self.firstJoinBytes, 2 * carried)
        while true {
            let take = min(step, pending.readableBytes - appended)
            if take > 0, let prefix = pending.getSlice(at: pending.readerIndex + appended, length: take) {
                buffer.writeImmutableBuffer(prefix)
                appended += take
            }
            var probe = buffer
            if let packet = try decode(&probe) {
                let used = probe.readerIndex - buffer.readerIndex
                if used > carried {
                    // The usual case: the packet ends inside `source`; continue there, uncopied.
                    var rest = pending
                    rest.moveReaderIndex(forwardBy: used - carried)
                    buffer = rest
                    source = nil
                } else {
                    // It fit in what was carried: take back the appended prefix, keep `source`.
                    probe.moveWriterIndex(to: probe.writerIndex - appended)
                    buffer = probe
                }
                return packet
            }
            if appended == pending.readableBytes {
                source = nil  // all of it is in `buffer` now: still unfinished
                return nil
            }
            step = appended
        }
    }

    /// Call when a read's packets were taken: a fully decoded read is let go at once (so NIO can
    /// reuse its receive buffer); the start of an unfinished packet is moved to the front, so the
    /// bytes already decoded are not kept.
    public mutating func readComplete() {
        if let pending = source {
            // The owner stopped before the straddling packet was joined: keep everything, in order.
            source = nil
            buffer.writeImmutableBuffer(pending)
        }
        if buffer.readableBytes == 0 {
            buffer = Self.empty
        } else if buffer.readerIndex > 0 {
            buffer.discardReadBytes()
        }
    }

    /// Drops everything buffered (after a decoding error or at the end of the stream).
    public mutating func discard() {
        buffer = Self.empty
        source = nil
    }
}
