import ArgumentParser
import Foundation
import NIOCore
import Plexus

/// `plexus tunnel CLUSTER`: like `nc`, standard input goes into a tunnel to one member of
/// CLUSTER and what comes back goes to standard output.
///
/// Standard input is sent in chunks of at most `--chunk` bytes, each one tunnel message, in
/// order. After its end the command keeps printing what arrives until the other end closes
/// the tunnel or nothing arrives for `--quit-after` milliseconds, then closes the tunnel.
struct TunnelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tunnel",
        abstract: "Open a tunnel to one member of CLUSTER: standard input → tunnel → standard output (like nc)."
    )

    /// Bounds one read of standard input (and so one tunnel message).
    static let maximumChunkBytes = 1 << 20

    @Argument(help: "The cluster to open the tunnel to.") var cluster: String
    @Option(help: "Milliseconds to wait for the tunnel to be set up.") var timeout = 5000
    @Option(help: "Milliseconds of silence after the end of standard input before closing.") var quitAfter = 1000
    @Option(help: "Largest message sent, in bytes (1 … 1048576).") var chunk = 64 * 1024
    @OptionGroup var options: ClientOptions

    func validate() throws {
        guard !cluster.isEmpty else { throw ValidationError("the cluster name must not be empty") }
        guard (1...Self.maximumChunkBytes).contains(chunk) else { throw ValidationError("--chunk must be between 1 and \(Self.maximumChunkBytes)") }
        _ = try positiveMilliseconds(quitAfter, option: "quit-after")
    }

    func run() async throws {
        let setup = try positiveMilliseconds(timeout, option: "timeout")
        let quiet = try positiveMilliseconds(quitAfter, option: "quit-after")
        let chunk = self.chunk
        try await options.withConnection(label: "plexus.tunnel") { connection in
            let tunnel: Tunnel
            do {
                tunnel = try await connection.tunnel(to: cluster, timeout: setup)
            } catch {
                throw RequestFailure(error, command: "tunnel")
            }
            let input = StandardInputChunks(chunk: chunk)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await bytes in input.stream {
                        try await tunnel.send(bytes)
                        input.taken()
                    }
                }
                group.addTask {
                    // Until the input ends: wait as long as it takes; after: at most `quiet` per message.
                    while true {
                        let message: ByteBuffer
                        do {
                            message = try await tunnel.receive(timeout: input.ended ? quiet : .milliseconds(200))
                        } catch PlexusError.timedOut {
                            if input.ended { return }
                            continue
                        } catch PlexusError.closed {
                            return
                        }
                        Payload.write(message, newline: false)
                    }
                }
                // Sending ends with the input; receiving ends with silence or the peer's close.
                try await group.next()
                try await group.next()
            }
            try? await tunnel.close()
        }
    }
}

/// Standard input read on its own thread (reads block) as chunks of at most `chunk` bytes; at
/// most `window` chunks wait in the stream (the reader blocks on a semaphore until `taken()`).
final class StandardInputChunks: Sendable {
    static let window = 16
    let stream: AsyncStream<[UInt8]>
    private let finished = LockedFlag()
    private let slots = DispatchSemaphore(value: StandardInputChunks.window)

    init(chunk: Int) {
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .unbounded)
        self.stream = stream
        let finished = self.finished
        let slots = self.slots
        Thread.detachNewThread {
            let handle = FileHandle.standardInput
            while true {
                guard let data = try? handle.read(upToCount: chunk), !data.isEmpty else { break }
                slots.wait()
                continuation.yield(Array(data))
            }
            finished.set()
            continuation.finish()
        }
    }

    /// One chunk was sent: the reader may queue another.
    func taken() { slots.signal() }

    /// Whether standard input has ended (everything read was handed to the stream).
    var ended: Bool { finished.value }
}

/// A flag set once from another thread.
final class LockedFlag: @unchecked Sendable {
    // @unchecked Sendable: `flag` is only read and written under `lock`.
    private let lock = NSLock()
    private var flag = false
    func set() { lock.withLock { flag = true } }
    var value: Bool { lock.withLock { flag } }
}
