import Foundation
import PlexusProcesses
import XCTest

/// The dashboard of a running 3-relay overlay in headless Chromium: it loads without script
/// errors, lists the three members and the service, and a screenshot is written for review.
/// Skips when Chromium is not installed (`scripts/install-optional.sh` installs it).
final class DashboardBrowserTests: XCTestCase {
    static let chromiumCandidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]

    /// Where the screenshot goes: `$PLEXUS_TEST_ARTIFACTS` or `.build/test-artifacts` in the package.
    static var artifactDirectory: URL {
        if let path = ProcessInfo.processInfo.environment["PLEXUS_TEST_ARTIFACTS"] { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/test-artifacts")
    }

    func testDashboardShowsTheMembersOfAThreeRelayOverlay() throws {
        guard let chromium = Self.chromiumCandidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("chromium is not installed (Debian package 'chromium'; scripts/install-optional.sh installs it): dashboard not tested in a browser")
        }
        let processes = try RelayProcesses(prefix: "plexus-dashboard")
        defer { processes.cleanUp() }
        let key = processes.path("network.key")
        XCTAssertEqual(try processes.run(["keygen", "--out", key]).status, 0)
        let a = RelaySpec(name: "a"), b = RelaySpec(name: "b"), c = RelaySpec(name: "c")
        try processes.startRelay(a, key: key, join: [])
        try processes.startRelay(b, key: key, join: [a])
        try processes.startRelay(c, key: key, join: [a, b])
        let nodes = try XCTUnwrap(processes.waitForOverlay([a, b, c], timeout: 20), "no overlay: \(processes.log("a"))")
        try processes.start("service", ["serve", "dashboard-echo", "--echo", "--port", "\(b.clientPort)"])
        XCTAssertTrue(processes.waitUntilVisible(cluster: "dashboard-echo", on: [nodes["b"]!], at: a), "service not visible")

        // The relay's token once in the query: the relay sets a cookie and redirects to `/`.
        let token = try XCTUnwrap(RelaySpec.token(dataDirectory: processes.path("data-a")), "relay a wrote no HTTP token")
        let url = "http://127.0.0.1:\(a.adminPort)/?token=\(token)"
        let profile = processes.path("chromium-profile")
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                      "--user-data-dir=\(profile)", "--window-size=1400,1100", "--virtual-time-budget=6000"]
        let dom = try Self.run(chromium, common + ["--enable-logging=stderr", "--v=0", "--dump-dom", url], timeout: 60)
        XCTAssertEqual(dom.status, 0, dom.error)
        XCTAssertTrue(dom.output.contains("data-rendered=\"1\""), "the page never rendered the relay's status:\n\(dom.output.prefix(2000))")
        XCTAssertTrue(dom.output.contains("data-errors=\"\""), "script errors: \(dom.output.prefix(2000))")
        for node in nodes.values {
            XCTAssertTrue(dom.output.contains(String(node.prefix(12))), "member \(node) missing from the page")
        }
        XCTAssertTrue(dom.output.contains("dashboard-echo"), "the service's cluster is missing from the page")
        let consoleErrors = dom.error.split(separator: "\n").filter {
            $0.contains("CONSOLE") && ($0.contains("Uncaught") || $0.contains("ERROR")) || $0.contains("Refused to")
        }
        XCTAssertEqual(consoleErrors, [], "console errors while loading the dashboard")

        try FileManager.default.createDirectory(at: Self.artifactDirectory, withIntermediateDirectories: true)
        let screenshot = Self.artifactDirectory.appendingPathComponent("dashboard.png").path
        try? FileManager.default.removeItem(atPath: screenshot)
        let shot = try Self.run(chromium, common + ["--screenshot=\(screenshot)", url], timeout: 60)
        XCTAssertEqual(shot.status, 0, shot.error)
        let size = (try? FileManager.default.attributesOfItem(atPath: screenshot)[.size] as? Int) ?? 0
        XCTAssertGreaterThan(size, 10_000, "no screenshot written")
        print("dashboard screenshot: \(screenshot)")
    }

    /// Runs `path` with `arguments`, killed after `timeout` seconds; output and error collected.
    static func run(_ path: String, _ arguments: [String], timeout: Double) throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        let outputData = LockedData(), errorData = LockedData()
        output.fileHandleForReading.readabilityHandler = { outputData.append($0.availableData) }
        error.fileHandleForReading.readabilityHandler = { errorData.append($0.availableData) }
        try process.run()
        let finished = waitUntil(timeout) { !process.isRunning }
        if !finished { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        output.fileHandleForReading.readabilityHandler = nil
        error.fileHandleForReading.readabilityHandler = nil
        outputData.append(output.fileHandleForReading.readDataToEndOfFile())
        errorData.append(error.fileHandleForReading.readDataToEndOfFile())
        return (finished ? process.terminationStatus : -1, outputData.text, errorData.text)
    }
}

/// Bytes appended from a pipe's handler thread and read by the test.
final class LockedData: @unchecked Sendable {
    // @unchecked Sendable: `data` is only touched under `lock`.
    private let lock = NSLock()
    private var data = Data()
    func append(_ more: Data) { lock.withLock { data.append(more) } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
