// libFuzzer target for a responder receiving its first handshake bytes: the real
// NoiseSessionHandler in an EmbeddedChannel, fed arbitrary inbound bytes (length prefix,
// message 1 parsing and authentication, and anything after it). Built only by
// scripts/fuzz.sh; a stub in a normal build.
#if PLEXUS_FUZZING
import NIOCore
#if canImport(Glibc)
import Glibc
#endif
import NIOEmbedded
import PlexusCrypto
import PlexusSession

private let identity = StaticIdentity.ephemeral()
private let keyring = Keyring(primary: try! NetworkKey(bytes: [UInt8](repeating: 7, count: 32)),
                              secondary: [try! NetworkKey(bytes: [UInt8](repeating: 8, count: 32))])
private let configuration = SessionConfiguration(role: .responder, identity: identity, keyring: keyring,
                                                 advertisedAddresses: ["10.0.0.1:7946"])

private final class Sink: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        fatalError("an application frame was delivered from unauthenticated input")
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) {}
}

private func fuzzOne(_ data: UnsafeRawBufferPointer) {
    let channel = EmbeddedChannel()
    try! channel.pipeline.syncOperations.addHandlers([try! NoiseSessionHandler(configuration: configuration), Sink()])
    try! channel.connect(to: try! SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
    // Feed in up to three chunks to exercise partial reads: split points from the first byte.
    var buffer = channel.allocator.buffer(capacity: data.count)
    buffer.writeBytes(data)
    let cut = data.isEmpty ? 0 : min(Int(data[0]) % 64, buffer.readableBytes)
    if let head = buffer.readSlice(length: cut), channel.isActive { _ = try? channel.writeInbound(head) }
    if channel.isActive { _ = try? channel.writeInbound(buffer) }
    while let _ = try? channel.readOutbound(as: ByteBuffer.self) {}
    _ = try? channel.finish()
}

@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

// Top-level code: this file is the executable's entry point.
var arguments = CommandLine.argc
var argumentVector: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
let status = LLVMFuzzerRunDriver(&arguments, &argumentVector) { data, size in
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
exit(status)
#else
print("this fuzz target does nothing in a normal build; run scripts/fuzz.sh handshake SECONDS")
#endif
