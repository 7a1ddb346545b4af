@testable import PlexusCLI
import PlexusMembership
import XCTest

/// The default `--advertise`: never loopback toward a seed on another host (issue 13).
final class AdvertiseChoiceTests: XCTestCase {
    let noRoute: (NodeAddress) -> String? = { _ in nil }

    func choose(explicit: String? = nil, dev: Bool = false, peerHost: String? = nil, seeds: [NodeAddress] = [],
                route: @escaping (NodeAddress) -> String? = { _ in "10.1.2.3" },
                interfaces: [String] = ["127.0.0.1", "10.9.9.9"]) -> AdvertiseChoice? {
        AdvertiseChoice.choose(explicit: explicit, dev: dev, peerHost: peerHost, seeds: seeds,
                               routeSource: route, interfaceAddresses: { interfaces })
    }

    func testExplicitDevAndASpecificPeerHostWin() {
        XCTAssertEqual(choose(explicit: "192.0.2.7")?.address, "192.0.2.7")
        XCTAssertEqual(choose(dev: true)?.address, "127.0.0.1")
        XCTAssertEqual(choose(peerHost: "10.0.0.4")?.address, "10.0.0.4")
        XCTAssertEqual(choose(peerHost: "0.0.0.0", seeds: [NodeAddress(host: "10.0.0.1", port: 1)])?.address, "10.1.2.3")
    }

    func testSeedsOnAnotherHostGetTheRouteSourceNeverLoopback() {
        let seeds = [NodeAddress(host: "127.0.0.1", port: 1), NodeAddress(host: "10.0.0.1", port: 55554)]
        var asked: [NodeAddress] = []
        let choice = AdvertiseChoice.choose(explicit: nil, dev: false, peerHost: nil, seeds: seeds,
                                            routeSource: { asked.append($0); return "10.0.0.5" }, interfaceAddresses: { [] })
        XCTAssertEqual(choice?.address, "10.0.0.5")
        XCTAssertEqual(asked, [NodeAddress(host: "10.0.0.1", port: 55554)])
        // A route that would leave from loopback, or none at all: refuse to start.
        XCTAssertNil(choose(seeds: [NodeAddress(host: "10.0.0.1", port: 1)], route: { _ in "127.0.0.1" }))
        XCTAssertNil(choose(seeds: [NodeAddress(host: "10.0.0.1", port: 1)], route: noRoute))
    }

    func testLoopbackSeedsOrNoSeed() {
        XCTAssertEqual(choose(seeds: [NodeAddress(host: "127.0.0.1", port: 1)])?.address, "127.0.0.1")
        XCTAssertEqual(choose()?.address, "10.9.9.9", "no seed: the first non-loopback interface")
        XCTAssertNil(choose(interfaces: ["127.0.0.1"]), "only loopback: refuse")
    }

    func testTheLookupsWorkOnLoopbackWithoutSendingAnything() {
        XCTAssertEqual(AdvertiseLookup.routeSource(to: NodeAddress(host: "127.0.0.1", port: 9)), "127.0.0.1")
        XCTAssertTrue(AdvertiseLookup.interfaceAddresses().contains("127.0.0.1"))
    }
}
