import Foundation
import NIOCore

/// Runs a shell command with a payload on its standard input and collects its standard output.
///
/// Blocking pipe reads run on dedicated threads, never on Swift concurrency's shared pool, and
/// standard output and standard error are drained concurrently so a chatty command cannot
/// deadlock against a full pipe.
enum ShellCommand {
    /// A command that exited non-zero; its text becomes the remote fault.
    struct Failed: Error, CustomStringConvertible {
        let description: String
    }

    static func run(_ command: String, input: ByteBuffer) async throws -> ByteBuffer {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            throw Failed(description: "cannot run /bin/sh: \(error)")
        }
        let inputData = Data(input.readableBytesView)
        let writer = stdin.fileHandleForWriting
        Thread.detachNewThread {
            try? writer.write(contentsOf: inputData)
            try? writer.close()
        }
        async let output = readToEnd(stdout.fileHandleForReading)
        async let errors = readToEnd(stderr.fileHandleForReading)
        let (outputData, errorData) = await (output, errors)
        let status = await exitStatus(of: process)
        guard status == 0 else {
            let text = String(decoding: errorData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw Failed(description: text.isEmpty ? "command exited with status \(status)" : text)
        }
        return ByteBuffer(bytes: outputData)
    }

    private static func readToEnd(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: (try? handle.readToEnd()) ?? Data())
            }
        }
    }

    private static func exitStatus(of process: Process) async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                process.waitUntilExit()
                continuation.resume(returning: process.terminationStatus)
            }
        }
    }
}
