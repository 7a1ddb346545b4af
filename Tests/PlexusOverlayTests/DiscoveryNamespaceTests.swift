#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PlexusOverlay
import PlexusProcesses
import XCTest

/// `--discover lan` between two network namespaces joined by a veth pair. Multicast never leaves
/// the namespaces the test creates (and removes).
final class DiscoveryNamespaceTests: XCTestCase {
    func testRelaysInTwoNamespacesDiscoverEachOtherAndIgnoreForeignBeacons() throws {
        guard getuid() == 0 else { throw XCTSkip("LAN discovery test needs root (ip netns); skipped") }
        guard ipTool != nil else { throw XCTSkip("LAN discovery test needs the `ip` tool (iproute2); skipped") }
        let processes = try RelayProcesses()
        let tag = "\(getpid() % 100_000)"
        let nsA = "pxa\(tag)", nsB = "pxb\(tag)", vethA = "pxva\(tag)", vethB = "pxvb\(tag)"
        let addressA = "10.231.7.1", addressB = "10.231.7.2"
        defer {
            processes.stopAll()
            ip("netns del \(nsA)")
            ip("netns del \(nsB)") // deleting the namespaces removes the veth pair
            try? FileManager.default.removeItem(at: processes.directory)
        }
        let setup = [
            "netns add \(nsA)", "netns add \(nsB)",
            "link add \(vethA) type veth peer name \(vethB)",
            "link set \(vethA) netns \(nsA)", "link set \(vethB) netns \(nsB)",
            "-n \(nsA) addr add \(addressA)/24 dev \(vethA)", "-n \(nsB) addr add \(addressB)/24 dev \(vethB)",
            "-n \(nsA) link set \(vethA) up", "-n \(nsB) link set \(vethB) up",
            "-n \(nsA) link set lo up", "-n \(nsB) link set lo up",
            "-n \(nsA) route add 224.0.0.0/4 dev \(vethA)", "-n \(nsB) route add 224.0.0.0/4 dev \(vethB)",
        ]
        for command in setup {
            guard ip(command) else { throw XCTSkip("`ip \(command)` failed (no netns support here?); skipped") }
        }

        let key = processes.path("network.key"), otherKey = processes.path("other.key")
        XCTAssertEqual(try processes.run(["keygen", "--out", key]).status, 0)
        XCTAssertEqual(try processes.run(["keygen", "--out", otherKey]).status, 0)
        // Each relay's HTTP token in a file of its own (the default, ~/.plexus/http-PORT.token, would
        // be shared by relays in different namespaces on the same port).
        func token(_ name: String) -> String { processes.path("\(name).token") }
        func relay(_ address: String, key: String, port: Int, peerPort: Int, adminPort: Int, name: String) -> [String] {
            ["relay", "--key", key, "--discover", "lan", "--advertise", address, "--peer-host", address,
             "--port", "\(port)", "--peer-port", "\(peerPort)", "--admin-port", "\(adminPort)", "--http-token-file", token(name)]
        }
        // Namespaces have their own port spaces: fixed ports are fine.
        try processes.start("a", relay(addressA, key: key, port: 41001, peerPort: 41101, adminPort: 41201, name: "a"), namespace: nsA)
        try processes.start("b", relay(addressB, key: key, port: 41001, peerPort: 41101, adminPort: 41201, name: "b"), namespace: nsB)
        try processes.start("foreign", relay(addressA, key: otherKey, port: 41002, peerPort: 41102, adminPort: 41202, name: "foreign"),
                            namespace: nsA)

        var a: OverlayStatus?, b: OverlayStatus?
        let discovered = waitUntil(15) {
            a = processes.status(adminPort: 41201, namespace: nsA, tokenFile: token("a"))
            b = processes.status(adminPort: 41201, namespace: nsB, tokenFile: token("b"))
            return a?.members.filter { $0.state == "alive" }.count == 2 && b?.members.filter { $0.state == "alive" }.count == 2
        }
        XCTAssertTrue(discovered, "no discovery; a log:\n\(processes.log("a"))\nb log:\n\(processes.log("b"))")
        XCTAssertTrue(processes.log("a").contains("discovered relay") || processes.log("b").contains("discovered relay"))
        XCTAssertEqual(a?.members.first { !$0.isSelf }?.address, "\(addressB):41101")

        // The relay with another key hears the same group but never becomes a member; its
        // beacons are dropped (counted) by the others.
        let foreign = processes.status(adminPort: 41202, namespace: nsA, tokenFile: token("foreign"))
        XCTAssertEqual(foreign?.members.count, 1)
        let dropped = waitUntil(5) {
            (processes.status(adminPort: 41201, namespace: nsB, tokenFile: token("b"))?.counters.beaconsDropped ?? 0) > 0
        }
        XCTAssertTrue(dropped, "foreign beacons not counted as dropped")
        for (admin, ns, name) in [(41201, nsA, "a"), (41201, nsB, "b")] {
            let status = processes.status(adminPort: admin, namespace: ns, tokenFile: token(name))
            XCTAssertFalse(status?.members.contains { $0.node == foreign?.node } ?? true)
        }
    }
}
