import Foundation
import Testing

/// The relay-core fuzz target's operations and invariants (`Sources/Tools/Fuzz/RelayCore`) on
/// seeded random inputs, as its normal (non-libFuzzer) build runs them: keeps the harness
/// compiling and its invariants holding in every test run; `scripts/fuzz.sh relay-core` searches
/// much further.
@Suite struct RelayCoreFuzzSmokeTests {
    /// Random inputs per run (about 160 operations each).
    static let inputs = 1000

    @Test func randomOperationSequencesKeepEveryInvariant() throws {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [directory, directory.deletingLastPathComponent()].map { $0.appendingPathComponent("PlexusFuzzRelayCore") }
        guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            Issue.record("PlexusFuzzRelayCore not built next to the tests (looked at \(candidates.map(\.path)))")
            return
        }
        let seed = UInt64.random(in: 1...UInt64(UInt32.max))
        let process = Process()
        process.executableURL = binary
        process.arguments = ["smoke", "\(Self.inputs)", "\(seed)"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "seed \(seed) broke an invariant (rerun: PlexusFuzzRelayCore smoke \(Self.inputs) \(seed)):\n\(text.prefix(3000))")
        #expect(text.contains("every invariant held"), "\(text.prefix(500))")
    }
}
