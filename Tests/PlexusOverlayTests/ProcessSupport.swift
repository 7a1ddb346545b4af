#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PlexusOverlay
import XCTest

/// Spawns and tracks `plexus` processes for the multi-process tests; kills every child in `stopAll`.
final class RelayProcesses {
    let binary: String
    let directory: URL
    private(set) var children: [String: Process] = [:]

    init() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [".build/debug/plexus", ".build/x86_64-unknown-linux-gnu/debug/plexus",
                          ".build/aarch64-unknown-linux-gnu/debug/plexus"].map { root.appendingPathComponent($0).path }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("the plexus binary was not found (looked at \(candidates)); run `swift build` first")
        }
        binary = found
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("plexus-overlay-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Runs a short command to completion (bounded by `timeout` seconds) and returns its stdout.
    @discardableResult
    func run(_ arguments: [String], timeout: Double = 10, namespace: String? = nil) throws -> (status: Int32, output: Data) {
        let process = Process()
        configure(process, arguments, namespace: namespace)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var output = Data()
        let reader = pipe.fileHandleForReading
        // Drain while waiting so a large output never blocks the child.
        while process.isRunning && Date() < deadline {
            usleep(10_000)
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        output = reader.readDataToEndOfFile()
        return (process.terminationStatus, output)
    }

    /// Starts a long-running child named `name`; its output goes to `<name>.log`.
    func start(_ name: String, _ arguments: [String], namespace: String? = nil) throws {
        let process = Process()
        configure(process, arguments, namespace: namespace)
        let log = path("\(name).log")
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        children[name] = process
    }

    /// Runs the binary directly, or inside a network namespace with `ip netns exec` (which execs
    /// the binary in place, so the child's PID is the relay's).
    private func configure(_ process: Process, _ arguments: [String], namespace: String?) {
        if let namespace {
            process.executableURL = URL(fileURLWithPath: ipTool ?? "/usr/sbin/ip")
            process.arguments = ["netns", "exec", namespace, binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
    }

    func signal(_ name: String, _ signal: Int32) {
        guard let process = children[name], process.isRunning else { return }
        kill(process.processIdentifier, signal)
    }

    /// Waits (bounded) for a child to exit; SIGKILLs it if it does not.
    func waitExit(_ name: String, timeout: Double = 5) {
        guard let process = children[name] else { return }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        children[name] = nil
    }

    func stopAll() {
        for (name, process) in children {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            children[name] = nil
        }
    }

    func log(_ name: String) -> String {
        (try? String(contentsOfFile: path("\(name).log"), encoding: .utf8)) ?? ""
    }

    func status(adminPort: Int, namespace: String? = nil) -> OverlayStatus? {
        guard let result = try? run(["status", "--json", "--admin-port", "\(adminPort)"], timeout: 5, namespace: namespace),
              result.status == 0 else { return nil }
        return try? JSONDecoder().decode(OverlayStatus.self, from: result.output)
    }

    deinit { stopAll() }
}

/// A port free for both TCP and UDP on 127.0.0.1 right now (bound to 0, then released).
func freePort() -> Int {
    for _ in 0..<50 {
        let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(tcp) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
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
        if udpBound && port < 60000 { return port }
    }
    fatalError("no free port")
}

/// Sends one UDP datagram to 127.0.0.1:`port`.
func sendDatagram(_ bytes: [UInt8], toPort port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
}

/// Polls `condition` every 100 ms until it holds or `timeout` seconds pass.
func waitUntil(_ timeout: Double, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if condition() { return true }
        usleep(100_000)
    }
    return condition()
}

/// The `ip` tool, if installed.
let ipTool: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// Runs `ip ARGS` (bounded by 10 s); returns whether it succeeded.
@discardableResult
func ip(_ arguments: String) -> Bool {
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
