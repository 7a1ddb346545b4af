// libFuzzer target for the relay-to-relay decoders: a session frame holding a batch of peer
// frames (`PeerFrameBatch`, `PeerFrameDecoder`). Every frame that decodes is re-encoded and must
// decode to the same frame. Built only by scripts/fuzz.sh (which passes -DPLEXUS_FUZZING and
// -sanitize=fuzzer,address); in a normal build it is a stub.
#if PLEXUS_FUZZING
import PlexusFuzzDriver
import NIOCore
#if canImport(Glibc)
import Glibc
#endif
import PlexusPeerWire

/// Small limits so that length checks are reached by short inputs as well as by the defaults.
private let decoders = [
    PeerFrameDecoder(),
    PeerFrameDecoder(limits: PeerFrameLimits(maxMessageBytes: 64, maxNameBytes: 8, maxReasonBytes: 16, maxChunkBytes: 32)),
]

/// Byte 0 picks the decoder and whether the rest is a whole batch or one bare frame.
private func fuzzOne(_ data: UnsafeRawBufferPointer) {
    guard let mode = data.first else { return }
    let decoder = decoders[Int(mode & 1)]
    let input = ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: data[1...]))
    var frames: [PeerFrame] = []
    if mode & 2 == 0 {
        try? PeerFrameBatch.forEachFrame(in: input, decoder: decoder) { frames.append($0) }
    } else if let frame = try? decoder.decode(input) {
        frames.append(frame)
    }
    for frame in frames {
        let encoded = PeerFrameEncoder.encode(frame)
        guard encoded.readableBytes == frame.encodedSize else { fatalError("encodedSize disagrees with encode") }
        guard let again = try? decoder.decode(encoded), again == frame else { fatalError("round trip changed \(frame)") }
    }
}

// Top-level code: this file is the executable's entry point.
runLibFuzzer { data, size in
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
print("this fuzz target does nothing in a normal build; run scripts/fuzz.sh peer-frames SECONDS")
#endif
