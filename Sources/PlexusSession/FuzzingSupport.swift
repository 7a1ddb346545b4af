import NIOCore
import PlexusCrypto
import PlexusNoise

/// Entry points for the libFuzzer targets under `Fuzz/` (SPI, not API): they drive the
/// real decoding code with a fixed key so that a fuzzer can reach past authentication.
@_spi(Fuzzing)
public struct TransportDecoderHarness {
    private var reader: TransportReader
    private var sealer: CipherState

    /// A decoder with key `key`, nonce 0, and the given limits.
    public init(key: CipherKey, maximumFrameSize: Int, rekeyInterval: UInt64, expectingHello: Bool) {
        reader = TransportReader(cipher: CipherState(key: key), rekeyInterval: rekeyInterval,
                                 maximumFrameSize: maximumFrameSize, expectingHello: expectingHello)
        sealer = CipherState(key: key)
    }

    /// Feeds raw wire bytes; returns the number of frames and hellos produced.
    public mutating func feed(_ buffer: inout ByteBuffer) throws -> Int {
        try reader.read(from: &buffer, allocator: ByteBufferAllocator()).count
    }

    /// Encrypts one message with an arbitrary type trailer exactly as the writer would
    /// (valid for the decoder's next nonce), appending `u16 length || ciphertext` to `out`.
    public mutating func seal(type: UInt8, body: UnsafeRawBufferPointer, into out: inout ByteBuffer, rekeyInterval: UInt64) throws {
        let plaintextLength = min(body.count, SessionLimits.maximumFragmentBody) + 1
        out.writeInteger(UInt16(plaintextLength + NoiseLimits.tagLength))
        var sealer = self.sealer
        try out.writeWithUnsafeMutableBytes(minimumWritableBytes: plaintextLength + NoiseLimits.tagLength) { destination in
            if plaintextLength > 1 { destination.baseAddress!.copyMemory(from: body.baseAddress!, byteCount: plaintextLength - 1) }
            destination[plaintextLength - 1] = type
            return try sealer.encryptInPlace(associatedData: UnsafeRawBufferPointer(start: nil, count: 0),
                                             buffer: destination, plaintextLength: plaintextLength)
        }
        if sealer.nonce % rekeyInterval == 0 { sealer.rekey() }
        self.sealer = sealer
    }
}
