// libFuzzer target for the session transport decoder (length prefix, decryption,
// message types, fragment reassembly, frame size limit). Built only by scripts/fuzz.sh
// (which passes -DPLEXUS_FUZZING and -sanitize=fuzzer,address); in a normal build it is a stub.
#if PLEXUS_FUZZING
import PlexusFuzzDriver
import NIOCore
#if canImport(Glibc)
import Glibc
#endif
import PlexusCrypto
@_spi(Fuzzing) import PlexusSession

private let key = try! CipherKey(bytes: [UInt8](repeating: 0x42, count: 32))

/// Input layout: byte 0 selects the mode.
///  * even: raw mode — the remaining bytes are wire bytes fed in chunks whose sizes come
///    from byte 1 (exercises length checks, authentication failures, partial messages).
///  * odd: structured mode — the rest is a list of `u8 type, u16 length, body` records;
///    each is sealed under the right nonce and the stream is fed in two parts, with the
///    split point from byte 1 (exercises types, HELLO ordering, reassembly, limits, rekey).
private func fuzzOne(_ data: UnsafeRawBufferPointer) {
    guard data.count >= 2 else { return }
    let structured = data[0] & 1 == 1
    let expectingHello = data[0] & 2 == 2
    let rekeyInterval: UInt64 = data[0] & 4 == 4 ? 2 : 1 << 20
    let maximumFrameSize = data[0] & 8 == 8 ? 70_000 : 300_000
    var harness = TransportDecoderHarness(key: key, maximumFrameSize: maximumFrameSize,
                                          rekeyInterval: rekeyInterval, expectingHello: expectingHello)
    var wire = ByteBufferAllocator().buffer(capacity: data.count + 64)
    let rest = UnsafeRawBufferPointer(rebasing: data[2...])
    if structured {
        var offset = 0
        while rest.count - offset >= 3 {
            let type = rest[offset]
            let length = Int(rest[offset + 1]) << 8 | Int(rest[offset + 2])
            offset += 3
            // Bodies repeat the available bytes so large fragments are cheap to express.
            var body = [UInt8](repeating: type, count: min(length, 65_518))
            for i in 0..<min(body.count, rest.count - offset) { body[i] = rest[offset + i] }
            offset += min(length, rest.count - offset)
            try! body.withUnsafeBytes { try harness.seal(type: type & 0x03, body: $0, into: &wire, rekeyInterval: rekeyInterval) }
        }
    } else {
        wire.writeBytes(rest)
    }
    let split = min(Int(data[1]) * 97, wire.readableBytes)
    var first = wire.readSlice(length: split)!
    do {
        _ = try harness.feed(&first)
        var remainder = first
        remainder.writeBuffer(&wire)
        _ = try harness.feed(&remainder)
    } catch {
        // Rejections are the expected outcome for most inputs.
    }
}

// Top-level code: this file is the executable's entry point.
runLibFuzzer { data, size in
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
print("this fuzz target does nothing in a normal build; run scripts/fuzz.sh session-frames SECONDS")
#endif
