// libFuzzer target for both relay protocol v1 decoders.
//
// Built only by `scripts/fuzz.sh wire SECONDS`, which compiles this target with
// `-sanitize=fuzzer,address -DPLEXUS_FUZZING`. A plain `swift build` compiles the stub at the end.
import NIOCore
import PlexusWire

/// Feeds `data` to both decoders as a stream, in two pieces cut at a position taken from the
/// input, and checks that whatever decodes re-encodes to a packet that decodes to the same value.
func fuzzOneInput(_ data: UnsafeRawBufferPointer) {
    guard let first = data.first else { return }
    let cut = data.isEmpty ? 0 : Int(first) % data.count
    let limits = WireLimits(maxMessageBytes: 1 << 20, maxNameBytes: 256, maxReasonBytes: 1024, maxChunkBytes: 1 << 16)
    var client = ByteBuffer()
    var relay = ByteBuffer()
    for piece in [UnsafeRawBufferPointer(rebasing: data[..<cut]), UnsafeRawBufferPointer(rebasing: data[cut...])] {
        client.writeBytes(piece)
        relay.writeBytes(piece)
        do {
            while let packet = try ClientPacket.decode(from: &client, limits: limits) {
                var encoded = ByteBuffer()
                encoded.writeClientPacket(packet)
                let again = try? ClientPacket.decode(from: &encoded, limits: limits)
                precondition(again == packet, "client packet round trip")
            }
        } catch {
            client.clear()
        }
        do {
            while let packet = try RelayPacket.decode(from: &relay, limits: limits) {
                var encoded = ByteBuffer()
                encoded.writeRelayPacket(packet)
                let again = try? RelayPacket.decode(from: &encoded, limits: limits)
                precondition(again == packet, "relay packet round trip")
            }
        } catch {
            relay.clear()
        }
    }
}

#if PLEXUS_FUZZING
typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: FuzzCallback
) -> Int32

@_cdecl("PlexusWireFuzz_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { bytes, length in
        fuzzOneInput(UnsafeRawBufferPointer(start: bytes, count: length))
        return 0
    }
}
#else
@main
enum PlexusWireFuzz {
    static func main() {
        print("plexus-wire-fuzz: build it with scripts/fuzz.sh wire SECONDS (libFuzzer + ASan)")
    }
}
#endif
