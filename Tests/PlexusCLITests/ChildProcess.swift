import Foundation
import XCTest

/// A `plexus` child process with captured output, killed at teardown if still running.
final class ChildProcess: @unchecked Sendable {
    // @unchecked Sendable: `process` and the pipes are only touched from the test's own task;
    // the output buffers are guarded by `lock`.
    let process = Process()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let lock = NSLock()
    private var stdoutData = Data()
    private var stderrData = Data()

    /// The `plexus` binary built next to the test bundle.
    static var plexusBinary: URL {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundleDirectory, bundleDirectory.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("plexus")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return bundleDirectory.appendingPathComponent("plexus")
    }

    /// The HOME of every child (unless a test sets one): a directory of this test process under
    /// the temporary directory, so relays without `--data-dir` keep their HTTP token
    /// (`~/.plexus/http-PORT.token`) there and not in the real home.
    static let home: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("plexus-cli-tests-home-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// `environment`: variables added to the test's own environment (and `HOME` = `home`).
    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = Self.plexusBinary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["HOME": Self.home]) { _, new in new }
            .merging(environment) { _, new in new }
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        process.standardInput = FileHandle.nullDevice
        stdoutPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            self.lock.lock(); self.stdoutData.append(data); self.lock.unlock()
        }
        stderrPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            self.lock.lock(); self.stderrData.append(data); self.lock.unlock()
        }
        guard FileManager.default.isExecutableFile(atPath: Self.plexusBinary.path) else {
            throw XCTSkip("plexus binary not found at \(Self.plexusBinary.path); run `swift build` first")
        }
        try process.run()
    }

    var standardOutput: String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: stdoutData, as: UTF8.self)
    }

    var standardError: String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: stderrData, as: UTF8.self)
    }

    /// Waits for the process to exit, at most `timeout`; returns its exit status or nil.
    func waitForExit(timeout: Duration = .seconds(20)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
        // Let the readability handlers drain what the process wrote last.
        try? await Task.sleep(for: .milliseconds(50))
        return process.terminationStatus
    }

    func signal(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        stdoutPipe.fileHandleForReading.readabilityHandler = nil
        stderrPipe.fileHandleForReading.readabilityHandler = nil
    }
}

/// Runs `plexus ARGS…` to completion (bounded) and returns status and output.
func runPlexus(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(20)) async throws
    -> (status: Int32?, stdout: String, stderr: String) {
    let child = try ChildProcess(arguments, environment: environment)
    let status = await child.waitForExit(timeout: timeout)
    child.signal(SIGKILL)
    return (status, child.standardOutput, child.standardError)
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(15), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}
