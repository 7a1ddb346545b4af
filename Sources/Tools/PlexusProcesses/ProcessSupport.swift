import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PlexusOverlay

/// Why `RelayProcesses` could not start.
public enum ProcessSupportError: Error, CustomStringConvertible {
    case binaryNotFound([String])

    public var description: String {
        switch self {
        case .binaryNotFound(let candidates):
            return "the plexus binary was not found (looked at \(candidates)); run `swift build` first"
        }
    }
}

/// Spawns and tracks `plexus` processes (multi-process tests, the two-relay benchmark); kills
/// every child in `stopAll` and at deinit.
///
/// `@unchecked Sendable`: the table of children is guarded by `lock`; everything else is
/// immutable, so tests may share one instance between tasks.
public final class RelayProcesses: @unchecked Sendable {
    public let binary: String
    public let directory: URL
    private let lock = NSLock()
    private var children: [String: Process] = [:]
    /// The HTTP token file of each relay started with `startRelay`, by its HTTP port.
    private var tokenFiles: [Int: String] = [:]

    /// Finds the `plexus` binary: next to this executable (the bench, or the test bundle in
    /// `.build/<configuration>`), else in the package's debug build directories.
    public static func locateBinary() throws -> String {
        let executableDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [executableDirectory.appendingPathComponent("plexus").path,
                          executableDirectory.deletingLastPathComponent().appendingPathComponent("plexus").path]
            + [".build/debug/plexus", ".build/x86_64-unknown-linux-gnu/debug/plexus",
               ".build/aarch64-unknown-linux-gnu/debug/plexus"].map { root.appendingPathComponent($0).path }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ProcessSupportError.binaryNotFound(candidates)
        }
        return found
    }

    /// `binary` nil = `locateBinary()`. A fresh temporary directory holds keys, data
    /// directories and one log per child.
    public init(binary: String? = nil, prefix: String = "plexus-overlay") throws {
        self.binary = try binary ?? Self.locateBinary()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Runs a short command to completion (bounded by `timeout` seconds) and returns its stdout.
    @discardableResult
    public func run(_ arguments: [String], timeout: Double = 10, namespace: String? = nil) throws -> (status: Int32, output: Data) {
        let process = Process()
        configure(process, arguments, namespace: namespace)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        let collected = OutputCollector()
        // Drain while waiting so a large output never blocks the child.
        pipe.fileHandleForReading.readabilityHandler = { handle in collected.append(handle.availableData) }
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            usleep(5_000)
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
        collected.append(pipe.fileHandleForReading.readDataToEndOfFile())
        return (process.terminationStatus, collected.data)
    }

    /// Starts a long-running child named `name`; its output goes to `<name>.log`.
    public func start(_ name: String, _ arguments: [String], namespace: String? = nil) throws {
        let process = Process()
        configure(process, arguments, namespace: namespace)
        let log = path("\(name).log")
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        lock.withLock { children[name] = process }
    }

    /// Runs the binary directly, or inside a network namespace with `ip netns exec` (which execs
    /// the binary in place, so the child's PID is the relay's). Every child's HOME is `directory`,
    /// so a relay without `--data-dir` writes its HTTP token (`~/.plexus/http-PORT.token`) there,
    /// where `plexus status` children find it and `cleanUp` removes it.
    private func configure(_ process: Process, _ arguments: [String], namespace: String?) {
        process.environment = ProcessInfo.processInfo.environment.merging(["HOME": directory.path]) { _, new in new }
        if let namespace {
            process.executableURL = URL(fileURLWithPath: ipTool ?? "/usr/sbin/ip")
            process.arguments = ["netns", "exec", namespace, binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
    }

    private func child(_ name: String) -> Process? { lock.withLock { children[name] } }

    /// The PID of a running child.
    public func pid(_ name: String) -> Int32? {
        guard let process = child(name), process.isRunning else { return nil }
        return process.processIdentifier
    }

    public func isRunning(_ name: String) -> Bool { child(name)?.isRunning ?? false }

    public func signal(_ name: String, _ signal: Int32) {
        guard let process = child(name), process.isRunning else { return }
        kill(process.processIdentifier, signal)
    }

    /// Waits at most `timeout` seconds for a child to exit by itself: its exit status (128 +
    /// the signal when a signal ended it), or nil if it is still running (it is left running).
    public func exitStatus(_ name: String, timeout: Double) -> Int32? {
        guard let process = child(name) else { return nil }
        guard waitUntil(timeout, { !process.isRunning }) else { return nil }
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// Waits (bounded) for a child to exit; SIGKILLs it if it does not.
    public func waitExit(_ name: String, timeout: Double = 5) {
        guard let process = child(name) else { return }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        lock.withLock { children[name] = nil }
    }

    public func stopAll() {
        let all = lock.withLock { () -> [String: Process] in
            defer { children = [:] }
            return children
        }
        for (_, process) in all {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    /// Stops every child and removes the temporary directory.
    public func cleanUp() {
        stopAll()
        try? FileManager.default.removeItem(at: directory)
    }

    public func log(_ name: String) -> String {
        (try? String(contentsOfFile: path("\(name).log"), encoding: .utf8)) ?? ""
    }

    /// Records where the relay with HTTP port `adminPort` writes its token (`--http-token-file`).
    public func setTokenFile(_ path: String, adminPort: Int) { lock.withLock { tokenFiles[adminPort] = path } }

    /// The token file recorded for `adminPort`, if any.
    public func tokenFile(adminPort: Int) -> String? { lock.withLock { tokenFiles[adminPort] } }

    /// The relay's `/v1/status` through `plexus status --json --http 127.0.0.1:adminPort` (the
    /// HTTP endpoint; `adminPort` is `RelaySpec.adminPort`) with the relay's token file
    /// (`tokenFile`, else the one recorded for the port), or nil if it does not answer.
    public func status(adminPort: Int, namespace: String? = nil, tokenFile: String? = nil) -> OverlayStatus? {
        var arguments = ["status", "--json", "--http", "127.0.0.1:\(adminPort)"]
        if let file = tokenFile ?? self.tokenFile(adminPort: adminPort) { arguments += ["--http-token-file", file] }
        guard let result = try? run(arguments, timeout: 5, namespace: namespace),
              result.status == 0 else { return nil }
        return try? JSONDecoder().decode(OverlayStatus.self, from: result.output)
    }

    /// Resident and peak resident memory of a running child, in bytes (`VmRSS`, `VmHWM`).
    public func memory(_ name: String) -> (rss: Int, peak: Int)? {
        guard let pid = pid(name) else { return nil }
        return processMemory(pid: pid)
    }

    /// User + system CPU seconds a running child has used so far.
    public func cpuSeconds(_ name: String) -> Double? {
        guard let pid = pid(name) else { return nil }
        return processCPUSeconds(pid: pid)
    }

    deinit { stopAll() }
}

/// User + system CPU seconds of a process (`utime` + `stime` from `/proc/PID/stat`).
public func processCPUSeconds(pid: Int32) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let end = text.lastIndex(of: ")") else { return nil }
    // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
    let fields = text[text.index(after: end)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// `VmRSS` and `VmHWM` of a process, in bytes, from `/proc/PID/status`.
public func processMemory(pid: Int32) -> (rss: Int, peak: Int)? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    func kilobytes(_ field: String) -> Int? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else { return nil }
        return line.split(separator: " ").compactMap { Int($0) }.first
    }
    guard let rss = kilobytes("VmRSS"), let peak = kilobytes("VmHWM") else { return nil }
    return (rss * 1024, peak * 1024)
}

/// Bytes a child wrote to a pipe, collected from the pipe's reading thread.
private final class OutputCollector: @unchecked Sendable {
    // @unchecked Sendable: `bytes` is only touched under `lock`.
    private let lock = NSLock()
    private var bytes = Data()
    func append(_ data: Data) { lock.withLock { bytes.append(data) } }
    var data: Data { lock.withLock { bytes } }
}

/// 127.0.0.1:`port` as a socket address.
public func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return address
}

/// Ports this process already handed out: the kernel may offer a port again as soon as the probe
/// socket closes, before the relay that was given it has bound it.
private let handedOutPorts = Mutex<Set<Int>>([])

/// A port free for both TCP and UDP on 127.0.0.1 right now (bound to 0, then released), never
/// one this process handed out before.
public func freePort() -> Int {
    for _ in 0..<200 {
        let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(tcp) }
        var address = loopbackAddress(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(tcp, pointer, length) == 0 && getsockname(tcp, pointer, &length) == 0
            }
        }
        guard bound else { continue }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(udp) }
        let udpBound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(udp, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard udpBound, port < 60000, handedOutPorts.withLock({ $0.insert(port).inserted }) else { continue }
        return port
    }
    // Test and benchmark harness only (never in a relay): no free loopback port after every
    // attempt is a broken environment, and the test run must stop with this message.
    fatalError("no free port")
}

/// Sends one UDP datagram to 127.0.0.1:`port`.
public func sendDatagram(_ bytes: [UInt8], toPort port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(fd) }
    var address = loopbackAddress(port: port)
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
}

/// Polls `condition` every 100 ms until it holds or `timeout` seconds pass.
public func waitUntil(_ timeout: Double, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if condition() { return true }
        usleep(100_000)
    }
    return condition()
}

/// The `ip` tool, if installed.
public let ipTool: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// Runs `ip ARGS` (bounded by 10 s); returns whether it succeeded.
@discardableResult
public func ip(_ arguments: String) -> Bool {
    guard let tool = ipTool else { return false }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments.split(separator: " ").map(String.init)
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    let deadline = Date().addingTimeInterval(10)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    return process.terminationStatus == 0
}
