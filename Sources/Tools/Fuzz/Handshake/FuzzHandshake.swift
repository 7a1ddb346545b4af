// libFuzzer target for a responder receiving its first handshake bytes: the real
// NoiseSessionHandler in an EmbeddedChannel, fed arbitrary inbound bytes (length prefix,
// message 1 parsing and authentication, and anything after it). Built only by
// scripts/fuzz.sh; a stub in a normal build.
#if PLEXUS_FUZZING
import PlexusFuzzDriver
import NIOCore
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOEmbedded
import PlexusCrypto
import PlexusNoise
import PlexusSession

private let identity = StaticIdentity.ephemeral()
private let keyring = Keyring(primary: try! NetworkKey(bytes: [UInt8](repeating: 7, count: 32)),
                              secondary: [try! NetworkKey(bytes: [UInt8](repeating: 8, count: 32))])
private let configuration = SessionConfiguration(role: .responder, identity: identity, keyring: keyring,
                                                 advertisedAddresses: ["10.0.0.1:7946"],
                                                 logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }))

private final class Sink: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        fatalError("an application frame was delivered from unauthenticated input")
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) {}
}

private let initiatorStatic = X25519KeyPair(privateKey: try! X25519PrivateKey(bytes: [UInt8](repeating: 3, count: 32)))

/// Input layout, byte 0:
///  * bit 0 clear — raw mode: the input (after byte 0) is fed as inbound bytes, split at a
///    point taken from byte 1 (length prefix checks, message 1 parsing and authentication).
///  * bit 0 set — structured mode: bytes 1...32 are the initiator's ephemeral key; a real
///    initiator produces a valid message 1, reads the responder's message 2, and then
///    either (bit 1 set) writes a real message 3 whose payload is the rest of the input,
///    under the primary, secondary (bit 2) or an unknown key (bit 3), or (bit 1 clear)
///    the rest of the input is fed as raw bytes after message 1 (keyring trial on forged
///    message 3, payload decoding, HELLO).
private func fuzzOne(_ data: UnsafeRawBufferPointer) {
    guard data.count >= 2 else { return }
    let channel = EmbeddedChannel()
    defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
    try! channel.pipeline.syncOperations.addHandlers([try! NoiseSessionHandler(configuration: configuration), Sink()])
    try! channel.connect(to: try! SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
    func send(_ bytes: [UInt8], prefixed: Bool) {
        guard channel.isActive else { return }
        var buffer = channel.allocator.buffer(capacity: bytes.count + 2)
        if prefixed { buffer.writeInteger(UInt16(truncatingIfNeeded: bytes.count)) }
        buffer.writeBytes(bytes)
        _ = try? channel.writeInbound(buffer)
    }
    let mode = data[0]
    guard mode & 1 == 1, data.count >= 33 else {
        let rest = Array(data[1...])
        let cut = min(Int(data[1]) % 64, rest.count)
        send(Array(rest[..<cut]), prefixed: false)
        send(Array(rest[cut...]), prefixed: false)
        return
    }
    let ephemeral = X25519KeyPair(privateKey: try! X25519PrivateKey(bytes: UnsafeRawBufferPointer(rebasing: data[1..<33])))
    let rest = Array(data[33...])
    let key: NetworkKey
    if mode & 8 == 8 { key = try! NetworkKey(bytes: [UInt8](repeating: 9, count: 32)) }
    else if mode & 4 == 4 { key = keyring.secondary[0] } else { key = keyring.primary }
    guard var initiator = try? HandshakeState(pattern: .XXpsk3, role: .initiator, prologue: Array("plexus-session-v1".utf8),
                                             staticKeyPair: initiatorStatic, presharedKeys: [key], fixedEphemeral: ephemeral),
          let first = try? initiator.writeMessage() else { return }
    send(first, prefixed: true)
    guard mode & 2 == 2 else {
        send(rest, prefixed: false)
        return
    }
    guard var reply = try? channel.readOutbound(as: ByteBuffer.self), reply.readableBytes > 2 else { return }
    reply.moveReaderIndex(forwardBy: 2)
    guard (try? initiator.readMessage(reply.readBytes(length: reply.readableBytes)!)) != nil,
          let third = try? initiator.writeMessage(payload: Array(rest.prefix(8000))) else { return }
    send(third, prefixed: true)
    while let _ = try? channel.readOutbound(as: ByteBuffer.self) {}
}

// Top-level code: this file is the executable's entry point.
runLibFuzzer { data, size in
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
print("this fuzz target does nothing in a normal build; run scripts/fuzz.sh handshake SECONDS")
#endif
