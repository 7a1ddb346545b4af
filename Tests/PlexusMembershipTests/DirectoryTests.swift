import XCTest
@testable import PlexusMembership

final class DirectoryTests: XCTestCase {
    func testOwnRecordUpdatesAreVersionedAndServedBySnapshots() {
        var a = makeMembership(1)
        let initialVersion = a.localRecord.version
        let directives = a.updateOwnRecord([.registerCluster("billing", capacity: 8), .subscribeTopic("orders")], now: 0)
        XCTAssertTrue(directives.contains(.directoryChanged))
        XCTAssertEqual(a.localRecord.version, initialVersion + 1)
        XCTAssertTrue(a.pendingBroadcasts.contains(.record(a.localRecord)))
        let snapshot = a.directorySnapshot()
        XCTAssertEqual(snapshot.relays(servingCluster: "billing"), [ClusterServer(node: nodeID(1), capacity: 8, zone: Name(bytes: []))])
        XCTAssertEqual(snapshot.relays(wantingTopic: "orders"), [nodeID(1)])
        XCTAssertTrue(snapshot.relays(wantingTopic: "Orders").isEmpty, "names compare byte for byte")
        XCTAssertTrue(a.directorySnapshot() === snapshot, "unchanged directory: same snapshot")
        // No-op change: no new version.
        _ = a.updateOwnRecord([.subscribeTopic("orders")], now: 1)
        XCTAssertEqual(a.localRecord.version, initialVersion + 1)
        _ = a.updateOwnRecord([.unregisterCluster("billing"), .unsubscribeTopic("orders")], now: 2)
        XCTAssertTrue(a.directorySnapshot().relays(servingCluster: "billing").isEmpty)
        XCTAssertTrue(snapshot.relays(servingCluster: "billing").count == 1, "old snapshots never change")
    }

    func testHigherVersionWinsAndDeadRelaysAreRemoved() {
        var a = makeMembership(1)
        introduce([2, 3], to: &a)
        func record(_ version: UInt64, _ clusters: [Name]) -> MembershipUpdate {
            .record(DirectoryRecord(node: nodeID(2), version: version, addresses: [address(2)], zone: "eu-1",
                                    clusters: clusters.map { ClusterCapacity(cluster: $0, capacity: 1) }))
        }
        let first = a.receive(MembershipPacket(sender: nodeID(2), message: .gossip(updates: [record(5, ["a"])])), now: 0)
        XCTAssertTrue(first.contains(.directoryChanged))
        _ = a.receive(MembershipPacket(sender: nodeID(3), message: .gossip(updates: [record(4, ["stale"])])), now: 1)
        XCTAssertEqual(a.directorySnapshot().relays(servingCluster: "a").map(\.node), [nodeID(2)])
        XCTAssertTrue(a.directorySnapshot().relays(servingCluster: "stale").isEmpty)
        _ = a.receive(MembershipPacket(sender: nodeID(2), message: .gossip(updates: [record(6, ["b"])])), now: 2)
        XCTAssertTrue(a.directorySnapshot().relays(servingCluster: "a").isEmpty)
        XCTAssertEqual(a.directorySnapshot().relays(servingCluster: "b").first?.zone, "eu-1")
        declareDeadByTimeout(nodeID(2), in: &a, now: 3)
        XCTAssertTrue(a.tick(now: 60_004).contains(.directoryChanged))
        XCTAssertNil(a.directorySnapshot().record(of: nodeID(2)))
        XCTAssertNil(a.recordVersion(of: nodeID(2)))
    }

    func testRestartedNodeMovesItsRecordVersionAboveAnEarlierLife() {
        var a = makeMembership(1, incarnation: 1)
        let stale = DirectoryRecord(node: nodeID(1), version: a.localRecord.version + 10, addresses: [address(1)], zone: "old")
        _ = a.receive(MembershipPacket(sender: nodeID(2), message: .gossip(updates: [.record(stale)])), now: 0)
        XCTAssertGreaterThan(a.localRecord.version, stale.version)
        XCTAssertEqual(a.localRecord.zone, Name(bytes: []))
    }
}
