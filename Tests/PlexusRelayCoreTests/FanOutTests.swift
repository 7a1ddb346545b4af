import PlexusMembership
import PlexusPeerWire
@testable import PlexusRelayCore
import XCTest

final class FanOutTests: XCTestCase {
    private func record(_ number: UInt64, clusters: [Name] = [], topics: [Name] = []) -> DirectoryRecord {
        DirectoryRecord(node: node(number), version: 1, addresses: [], zone: "z1",
                        clusters: clusters.map { ClusterCapacity(cluster: $0, capacity: 4) }, topics: topics)
    }

    private lazy var directory = DirectorySnapshot(records: [
        node(1): record(1, clusters: ["svc"], topics: ["news"]),
        node(5): record(5, clusters: ["svc", "svc"], topics: ["news", "news"]),   // listed twice
        node(3): record(3, clusters: ["svc", "other"]),
        node(2): record(2, topics: ["news", "sport"]),
        node(4): record(4),
    ])

    func testBroadcastGoesToEveryOtherServingRelayOnceInOrder() {
        XCTAssertEqual(FanOut.relays(forBroadcastTo: "svc", in: directory, localNode: node(1)), [node(3), node(5)])
        XCTAssertEqual(FanOut.relays(forBroadcastTo: "svc", in: directory, localNode: node(4)),
                       [node(1), node(3), node(5)])
        XCTAssertEqual(FanOut.relays(forBroadcastTo: "other", in: directory, localNode: node(3)), [])
        XCTAssertEqual(FanOut.relays(forBroadcastTo: "nobody", in: directory, localNode: node(1)), [])
    }

    func testPublishGoesToEveryOtherInterestedRelayOnce() {
        XCTAssertEqual(FanOut.relays(forPublishTo: "news", in: directory, localNode: node(1)), [node(2), node(5)])
        XCTAssertEqual(FanOut.relays(forPublishTo: "sport", in: directory, localNode: node(1)), [node(2)])
        XCTAssertEqual(FanOut.relays(forPublishTo: "news", in: directory, localNode: node(9),
                                     excluding: [node(5)]), [node(1), node(2)])
    }

    func testTargetsRuleIsDeterministic() {
        let nodes = [node(9), node(2), node(9), node(7), node(1), node(2)]
        XCTAssertEqual(FanOut.targets(nodes, localNode: node(7)), [node(1), node(2), node(9)])
        XCTAssertEqual(FanOut.targets(nodes.reversed(), localNode: node(7)), [node(1), node(2), node(9)])
    }
}
