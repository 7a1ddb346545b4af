import PlexusFederation
import XCTest

final class InterestTests: XCTestCase {
    func testDeltasFollowFullAnnouncement() {
        var announcer = InterestAnnouncer()
        var remote = RemoteInterest()
        XCTAssertEqual(remote.apply(announcer.full), .applied(changed: false))
        XCTAssertTrue(remote.isKnown)

        let first = announcer.update(clusters: ["echo", "db"], topics: ["news"])
        XCTAssertEqual(first?.version, 1)
        XCTAssertEqual(first?.kind, .delta)
        XCTAssertEqual(first.map { remote.apply($0) }, .applied(changed: true))
        XCTAssertNil(announcer.update(clusters: ["echo", "db"], topics: ["news"]), "no change, no announcement")

        let second = announcer.update(clusters: ["echo"], topics: ["news", "sport"])
        XCTAssertEqual(second?.changes, [.removeCluster("db"), .addTopic("sport")])
        XCTAssertEqual(second.map { remote.apply($0) }, .applied(changed: true))
        XCTAssertEqual(remote.clusters, ["echo"])
        XCTAssertEqual(remote.topics, ["news", "sport"])
        XCTAssertEqual(remote.version, 2)

        var late = RemoteInterest()
        XCTAssertEqual(late.apply(announcer.full), .applied(changed: true))
        XCTAssertEqual(late, remote)
    }

    func testOutOfOrderDeltaIsRefusedAndChangesNothing() {
        var remote = RemoteInterest()
        let delta = GatewayInterest(version: 1, kind: .delta, changes: [.addCluster("echo")])
        XCTAssertEqual(remote.apply(delta), .outOfOrder(expected: 1, got: 1), "a delta before any full announcement")
        XCTAssertEqual(remote.apply(GatewayInterest(version: 5, kind: .full, changes: [.addCluster("a")])), .applied(changed: true))
        XCTAssertEqual(remote.apply(GatewayInterest(version: 7, kind: .delta, changes: [.addCluster("b")])),
                       .outOfOrder(expected: 6, got: 7))
        XCTAssertEqual(remote.clusters, ["a"])
    }
}
