import CSodium
import Logging
import NIOCore
import NIOEmbedded
import PlexusCrypto
import PlexusNoise
import PlexusSession
#if canImport(Glibc)
import Glibc
#endif

/// `plexus-crypto-bench [seconds-per-measurement]`: single-threaded figures for the
/// session layer next to raw libsodium, all in one run. Pin it: `taskset -c 1 ...`.
@main
struct PlexusCryptoBench {
    static func main() throws {
        let seconds = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 2 : 2
        Sodium.ensureInitialized()
        print("plexus-crypto-bench: \(seconds) s per measurement, one thread; MB = 10^6 bytes of payload, each encrypted and decrypted once")
        print(String(repeating: "-", count: 72))
        let handshakes = try measureHandshakes(seconds: seconds)
        print(pad("Noise XXpsk3 handshakes (both sides, PlexusNoise)") + "\(Int(handshakes)) /s")
        let sessionHandshakes = try measureSessionHandshakes(seconds: seconds)
        print(pad("session handshakes (two handlers, EmbeddedChannel)") + "\(Int(sessionHandshakes)) /s")
        // Raw and session slices alternate (20 rounds each) so that load changes on a shared
        // machine hit both sides of the comparison alike.
        let rounds = 20
        for size in [1024, 65536] {
            var rawRates: [Double] = [], sessionRates: [Double] = []
            for _ in 0..<rounds {
                rawRates.append(measureRaw(size: size, seconds: seconds / Double(rounds)))
                sessionRates.append(try measureSession(size: size, seconds: seconds / Double(rounds)))
            }
            let raw = median(rawRates), session = median(sessionRates)
            let share = Int((100 * session / raw).rounded())
            print(pad("raw libsodium seal+open, \(size / 1024) KiB (median of \(rounds))") + "\(fixed(raw)) MB/s")
            print(pad("session encrypt+decrypt, \(size / 1024) KiB frames (median)") + "\(fixed(session)) MB/s  (\(share)% of raw)")
        }
        // The two Noise suites (Docs/session-protocol.md 2.1), alternating slices as above.
        guard NoiseCipher.aesGCM.isAvailable else {
            print("AESGCM suite: not available on this CPU (no AES-NI/PCLMUL)")
            return
        }
        for size in [1024, 65536] {
            var chacha: [Double] = [], aes: [Double] = []
            for _ in 0..<rounds {
                chacha.append(try measureSession(size: size, seconds: seconds / Double(rounds), cipher: .chaChaPoly))
                aes.append(try measureSession(size: size, seconds: seconds / Double(rounds), cipher: .aesGCM))
            }
            let ratio = median(aes) / median(chacha)
            print(pad("session, \(size / 1024) KiB frames: ChaChaPoly / AESGCM") + "\(fixed(median(chacha))) / \(fixed(median(aes))) MB/s  (AESGCM \(fixed(ratio))x)")
        }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }

    /// One decimal place, without Foundation.
    static func fixed(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    static func pad(_ label: String) -> String { label + String(repeating: " ", count: max(1, 56 - label.count)) }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Runs `body` in batches until `seconds` have passed; returns operations per second.
    static func rate(seconds: Double, batch: Int, _ body: () throws -> Void) rethrows -> Double {
        for _ in 0..<batch { try body() } // warm-up
        let start = now()
        var operations = 0
        while now() - start < seconds {
            for _ in 0..<batch { try body() }
            operations += batch
        }
        return Double(operations) / (now() - start)
    }

    static func measureHandshakes(seconds: Double) throws -> Double {
        let key = NetworkKey.generate()
        let initiatorStatic = X25519KeyPair.generate(), responderStatic = X25519KeyPair.generate()
        return try rate(seconds: seconds, batch: 20) {
            var initiator = try HandshakeState(pattern: .XXpsk3, role: .initiator, staticKeyPair: initiatorStatic, presharedKeys: [key])
            var responder = try HandshakeState(pattern: .XXpsk3, role: .responder, staticKeyPair: responderStatic, presharedKeys: [key])
            _ = try responder.readMessage(initiator.writeMessage())
            _ = try initiator.readMessage(responder.writeMessage())
            _ = try responder.readMessage(initiator.writeMessage())
            _ = try initiator.split()
            _ = try responder.split()
        }
    }

    static func makePair(_ key: NetworkKey, loop: EmbeddedEventLoop,
                         cipher: NoiseCipher = .chaChaPoly) throws -> (EmbeddedChannel, EmbeddedChannel, Counter) {
        let logger = Logger(label: "bench")
        let initiator = EmbeddedChannel(loop: loop), responder = EmbeddedChannel(loop: loop)
        let counter = Counter()
        var initiatorConfiguration = SessionConfiguration(role: .initiator, identity: identityA, keyring: Keyring(primary: key),
                                                          logger: logger)
        initiatorConfiguration.proposedCipher = cipher
        try initiator.pipeline.syncOperations.addHandler(NoiseSessionHandler(configuration: initiatorConfiguration))
        try responder.pipeline.syncOperations.addHandlers([NoiseSessionHandler(configuration: SessionConfiguration(
            role: .responder, identity: identityB, keyring: Keyring(primary: key), logger: logger)), counter])
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 9)
        try responder.connect(to: address).wait()
        try initiator.connect(to: address).wait()
        for _ in 0..<8 { try move(initiator, responder); try move(responder, initiator) }
        precondition(counter.established, "session did not establish")
        return (initiator, responder, counter)
    }

    static let identityA = StaticIdentity.ephemeral(), identityB = StaticIdentity.ephemeral()

    static func move(_ from: EmbeddedChannel, _ to: EmbeddedChannel) throws {
        while let buffer = try from.readOutbound(as: ByteBuffer.self) { try to.writeInbound(buffer) }
    }

    static func measureSessionHandshakes(seconds: Double) throws -> Double {
        let key = NetworkKey.generate()
        let loop = EmbeddedEventLoop()
        return try rate(seconds: seconds, batch: 10) {
            let (a, b, _) = try makePair(key, loop: loop)
            _ = try a.finish()
            _ = try b.finish()
        }
    }

    static func measureSession(size: Int, seconds: Double, cipher: NoiseCipher = .chaChaPoly) throws -> Double {
        let loop = EmbeddedEventLoop()
        let (initiator, responder, counter) = try makePair(NetworkKey.generate(), loop: loop, cipher: cipher)
        precondition(counter.cipher == cipher, "the session did not run the requested suite")
        let payload = ByteBuffer(repeating: 0x5a, count: size)
        let framesPerFlush = max(1, (256 * 1024) / size)
        let flushesPerSecond = try rate(seconds: seconds, batch: 4) {
            for _ in 0..<framesPerFlush { initiator.write(payload, promise: nil) }
            initiator.flush()
            try move(initiator, responder)
        }
        precondition(counter.frames > 0 && counter.bytes % size == 0)
        return flushesPerSecond * Double(framesPerFlush * size) / 1e6
    }

    static func measureRaw(size: Int, seconds: Double) -> Double {
        // Cannot throw: a constant key of exactly CipherKey's 32 bytes.
        let key = try! CipherKey(bytes: [UInt8](repeating: 1, count: 32))
        var buffer = [UInt8](repeating: 0x5a, count: size + ChaChaPoly.tagLength)
        var counter: UInt64 = 0
        let perSecond = rate(seconds: seconds, batch: 64) {
            buffer.withUnsafeMutableBytes { bytes in
                let empty = UnsafeRawBufferPointer(start: nil, count: 0)
                _ = ChaChaPoly.sealInPlace(key: key, counter: counter, associatedData: empty, buffer: bytes, plaintextLength: size)
                // Cannot throw: it opens what the line above sealed, with the same key and nonce.
                _ = try! ChaChaPoly.openInPlace(key: key, counter: counter, associatedData: empty, buffer: bytes)
            }
            counter += 1
        }
        return perSecond * Double(size) / 1e6
    }
}

/// Counts delivered frames and drops them (the end of the responder's pipeline).
final class Counter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var frames = 0
    var bytes = 0
    var established = false
    var cipher: NoiseCipher?
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        frames += 1
        bytes += unwrapInboundIn(data).readableBytes
    }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? SessionEstablished {
            established = true
            cipher = event.cipher
        }
    }
}
