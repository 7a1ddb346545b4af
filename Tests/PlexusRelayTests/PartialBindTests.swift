import Logging
import NIOConcurrencyHelpers
import PlexusRelay
import XCTest

/// A relay that can bind only some of its client addresses keeps running on those and says which
/// address is missing (issue 13: "a relay that binds only one of 127.0.0.1/::1 says so clearly").
final class PartialBindTests: XCTestCase {
    /// Collects warning messages (the relay logs few lines; a lock because Logger is Sendable).
    private final class Warnings: Sendable {
        let lines = NIOLockedValueBox<[String]>([])
    }

    private struct Collector: LogHandler {
        let warnings: Warnings
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .warning
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { warnings.lines.withLockedValue { $0.append(event.message.description) } }
    }

    func testAnAddressThatCannotBeBoundIsNamed() async throws {
        let warnings = Warnings()
        var configuration = RelayConfiguration()
        configuration.port = 0
        // 192.0.2.1 (TEST-NET-1) is not an address of this host: binding it fails at once with
        // EADDRNOTAVAIL; nothing is sent anywhere.
        configuration.hosts = ["127.0.0.1", "192.0.2.1"]
        let relay = try await RelayServer.start(configuration: configuration,
                                                logger: Logger(label: "partial") { _ in Collector(warnings: warnings) })
        XCTAssertEqual(relay.boundAddresses, ["127.0.0.1:\(relay.port)"])
        let lines = warnings.lines.withLockedValue { $0 }
        XCTAssertTrue(lines.contains { $0.contains("listens only on 127.0.0.1:\(relay.port)") && $0.contains("binding 192.0.2.1 failed") },
                      "\(lines)")
        await relay.shutdown()
    }
}
