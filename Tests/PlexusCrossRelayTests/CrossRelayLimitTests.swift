import Foundation
import Plexus
import PlexusProcesses
import XCTest

/// Names the client protocol can carry but the directory cannot must not crash a relay of an
/// overlay (issue 10, defect 1): the client gets a clear refusal and the relay keeps serving.
final class CrossRelayLimitTests: XCTestCase {
    func testBadNamesFromOneClientAreRefusedAndTheOverlayRelayKeepsServing() async throws {
        let overlay = try RelayOverlay(["A", "B"], prefix: "plexus-xrelay-limits")
        defer { overlay.stop() }

        // On relay A: an empty topic and an overlong one (each closes that client's connection
        // with the limit as reason), and an overlong cluster registration (denied).
        for topic in ["", String(repeating: "t", count: 256)] {
            let client = try await overlay.connect("A")
            let subscription = try? await client.subscribe(to: topic)
            var events = 0
            if let subscription {
                for try await _ in subscription { events += 1 } // ends when the relay closes the connection
            }
            XCTAssertEqual(events, 0)
            try? await client.close()
        }
        do {
            let denied = try await overlay.register(String(repeating: "c", count: 256), on: "A", handler: Member())
            try? await denied.close()
            XCTFail("a 256-byte cluster name was accepted")
        } catch {
            XCTAssertTrue("\(error)".contains("cluster name must be 1 to 255 bytes"), "\(error)")
        }

        // Relay A is still up, and its record still gossips: a member on A is reachable from B,
        // and a member on B from A.
        let cluster = unique("xr-limits")
        let onA = try await overlay.register(cluster + "-a", on: "A", handler: Member("A"))
        let onB = try await overlay.register(cluster + "-b", on: "B", handler: Member("B"))
        await overlay.waitUntilVisible(cluster: cluster + "-a", on: ["A"], at: "B")
        await overlay.waitUntilVisible(cluster: cluster + "-b", on: ["B"], at: "A")
        let fromA = try await overlay.connect("A"), fromB = try await overlay.connect("B")
        let replyFromB = try await fromA.request("x", to: cluster + "-b", timeout: .seconds(5))
        let replyFromA = try await fromB.request("y", to: cluster + "-a", timeout: .seconds(5))
        XCTAssertEqual(replyFromB, "B:x")
        XCTAssertEqual(replyFromA, "A:y")
        XCTAssertNoThrow(try overlay.memory("A"), "relay A must still be running")
        for connection in [onA, onB, fromA, fromB] { try? await connection.close() }
    }
}
