import NIOCore

/// Several peer frames in one session application frame: each frame is preceded by its length
/// as a varint (`Docs/relay-to-relay.md` §1). Batching lets a relay encrypt many small frames
/// (events, replies) as one Noise message per event-loop tick instead of one per frame.
///
/// Guarantees: `append` writes exactly `PeerFrameBatch.encodedSize(of:)` bytes;
/// `forEachFrame` hands out every frame of a valid batch in order, as slices of the input, and
/// throws `PeerFrameError` for a batch that is empty, whose length prefix is malformed, announces
/// more than `maxFrameBytes` or more bytes than remain, or whose frame fails to decode. Frames
/// before the bad one have already been handed out (the caller closes the session).
public enum PeerFrameBatch {
    /// Largest single frame a batch may announce: the session's application-frame limit.
    public static let maxFrameBytes = PeerFrameLimits.sessionFrameBytes

    /// Appends `frame` with its length prefix to `batch`; pass `encodedSize` if it is known
    /// (it must equal `frame.encodedSize`).
    public static func append(_ frame: PeerFrame, encodedSize: Int? = nil, to batch: inout ByteBuffer) {
        let size = encodedSize ?? frame.encodedSize
        PeerFrameEncoder.writeVarint(UInt64(size), into: &batch)
        batch.reserveCapacity(minimumWritableBytes: size)
        PeerFrameEncoder.encode(frame, into: &batch)
    }

    /// Bytes `append` writes for `frame`.
    public static func encodedSize(of frame: PeerFrame) -> Int {
        let size = frame.encodedSize
        return size + (size == 0 ? 1 : (64 - UInt64(size).leadingZeroBitCount + 6) / 7)
    }

    /// Decodes every frame of `batch` in order.
    public static func forEachFrame(in batch: ByteBuffer, decoder: PeerFrameDecoder,
                                    _ body: (PeerFrame) -> Void) throws(PeerFrameError) {
        var reader = PeerFieldReader(buffer: batch)
        guard reader.buffer.readableBytes > 0 else { throw .emptyFrame }
        while reader.buffer.readableBytes > 0 {
            let length = try reader.varint("batched frame length")
            guard length <= UInt64(maxFrameBytes) else {
                throw .lengthOverLimit(field: "batched frame length", length: length, limit: maxFrameBytes)
            }
            guard let frame = reader.buffer.readSlice(length: Int(length)) else {
                throw .truncated(field: "batched frame")
            }
            body(try decoder.decode(frame))
        }
    }
}
