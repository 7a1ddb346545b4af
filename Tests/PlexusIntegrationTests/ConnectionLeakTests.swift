#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Plexus
import PlexusRelay
import XCTest

/// Connections released without `close()` release their sockets: many connect/drop cycles
/// leave the process's file descriptors and memory flat.
final class ConnectionLeakTests: XCTestCase {
    /// Cycles in the suite (debug build, ~2 ms each). The 10,000 are run with
    /// `PLEXUS_LEAK_CYCLES=10000 swift test --skip-build --filter ConnectionLeakTests`
    /// (result in Docs/binding.md).
    static let suiteCycles = 2_000
    static let warmUpCycles = 200
    /// Allowed growth of resident memory over the measured cycles.
    static let memorySlackBytes = 24 << 20

    private static var openDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    private static var residentBytes: Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kilobytes * 1024
    }

    func testConnectDropCyclesLeaveDescriptorsAndMemoryFlat() async throws {
        guard FileManager.default.fileExists(atPath: "/proc/self/fd") else { throw XCTSkip("needs /proc/self/fd") }
        let cycles = ProcessInfo.processInfo.environment["PLEXUS_LEAK_CYCLES"].flatMap(Int.init) ?? Self.suiteCycles
        var configuration = RelayConfiguration()
        configuration.port = 0
        var logger = Logger(label: "relay")
        logger.logLevel = .error
        let relay = try await RelayServer.start(configuration: configuration, logger: logger)
        let port = relay.port

        // Relative to what this process already has open (earlier tests in the same run may hold some).
        let baseline = Self.openDescriptors
        for _ in 0..<Self.warmUpCycles { _ = try await Connection.connect(port: port) }
        let settledBefore = await poll(within: .seconds(10)) { Self.openDescriptors <= baseline + 8 }
        XCTAssertTrue(settledBefore, "warm-up connections kept their descriptors: \(baseline) → \(Self.openDescriptors)")
        let descriptorsBefore = Self.openDescriptors, memoryBefore = Self.residentBytes

        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<cycles { _ = try await Connection.connect(port: port) }  // released at once, never closed
        let took = clock.now - start
        let settled = await poll(within: .seconds(10)) { Self.openDescriptors <= descriptorsBefore + 4 }
        let descriptorsAfter = Self.openDescriptors, memoryAfter = Self.residentBytes
        print("\(cycles) connect/drop cycles in \(took): fds \(descriptorsBefore) → \(descriptorsAfter), RSS \(memoryBefore >> 20) → \(memoryAfter >> 20) MiB")
        XCTAssertTrue(settled, "descriptors did not return: \(descriptorsBefore) → \(descriptorsAfter)")
        XCTAssertLessThan(memoryAfter - memoryBefore, Self.memorySlackBytes, "memory grew by \((memoryAfter - memoryBefore) >> 20) MiB")
        await relay.shutdown()
    }
}
