import Foundation
import PlexusFaultBed
import PlexusProcesses
import XCTest

/// A 64 MiB tunnel across two clouds on the namespace bed (`Docs/federation.md` §4, tunnels):
/// a client in eu, an echoing member in us, the gateway link through the delay proxy (40 ms each
/// way). Every byte must come back, in order: the whole stream is compared.
final class FederationTunnelFaultTests: XCTestCase {
    func testSixtyFourMebibyteTunnelAcrossTwoOverlays() throws {
        let bed = try makeFaultBed(relays: 4)
        defer { bed.tearDown() }
        let euKey = try bed.makeKey("eu.key"), usKey = try bed.makeKey("us.key"), federationKey = try bed.makeKey("federation.key")
        try bed.startFederated(0, .init(key: euKey, overlay: "eu", join: [1], federationKey: federationKey))
        try bed.startFederated(1, .init(key: euKey, overlay: "eu", join: [0]))
        try bed.startFederated(2, .init(key: usKey, overlay: "us", join: [3], federationKey: federationKey, gatewayJoins: [0],
                                        delayMilliseconds: 40))
        try bed.startFederated(3, .init(key: usKey, overlay: "us", join: [2]))
        XCTAssertNotNil(bed.waitUntilAllAlive([0, 1], timeout: 20), "overlay eu formed")
        XCTAssertNotNil(bed.waitUntilAllAlive([2, 3], timeout: 20), "overlay us formed")
        try bed.startClient(on: 3, ["serve", "bulk", "--echo"], output: "bulk-us.txt")
        let reachable = waitUntil(20) {
            ((try? bed.client(on: 1, ["request", "bulk", "ping", "--timeout", "2000"]).output) ?? "").contains("ping")
        }
        XCTAssertTrue(reachable, "eu learned that us serves bulk")

        // 64 MiB of pseudo-random bytes: relay 1 (eu, not a gateway) → gateway eu → 40 ms → gateway us → relay 3 → member, and back.
        let size = 64 << 20
        var generator = SplitMix(seed: 0x5eed)
        var bytes = [UInt8](repeating: 0, count: size)
        for index in stride(from: 0, to: size, by: 8) {
            withUnsafeBytes(of: generator.next()) { word in
                for offset in 0..<8 { bytes[index + offset] = word[offset] }
            }
        }
        let input = bed.processes.path("tunnel-in.bin"), output = bed.processes.path("tunnel-out.bin")
        try Data(bytes).write(to: URL(fileURLWithPath: input))
        let command = "\(bed.processes.binary) tunnel bulk --chunk 1048576 --quit-after 5000 --port \(FaultBedRelay.clientPort)"
            + " < \(input) > \(output)"
        let started = Date()
        let result = bed.runInNamespace(1, "/bin/sh", ["-c", command], timeout: 240)
        let seconds = Date().timeIntervalSince(started) - 5 // the quiet period after the echo ended
        XCTAssertEqual(result?.status, 0, "plexus tunnel finished")
        let echoed = try Data(contentsOf: URL(fileURLWithPath: output))
        XCTAssertEqual(echoed.count, size, "every byte came back")
        XCTAssertTrue(echoed == Data(bytes), "in order and intact")
        print(String(format: "federation: 64 MiB echoed through a tunnel across two overlays (80 ms round trip) in %.1f s", seconds))
    }
}

/// A small deterministic generator for test data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
