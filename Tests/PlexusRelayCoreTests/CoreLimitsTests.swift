import NIOCore
import PlexusMembership
import PlexusVocabulary
@testable import PlexusRelayCore
import PlexusWire
import XCTest

/// Names and interest beyond `OverlayLimits` are refused where they enter, with the limit as the
/// reason; nothing beyond them reaches the route table (and so the directory record).
final class CoreLimitsTests: XCTestCase {
    let s = CoreHarness.s

    func initiate(_ h: inout CoreHarness, cluster: String) -> (ConnectionID, [CoreHarness.Output]) {
        let id = h.open()
        let out = h.receive(.initiate(version: s(WireConstants.protocolVersion), cluster: s(cluster)), from: id)
        return (id, out)
    }

    func testRegistrationWithAnOverlongClusterNameIsDenied() {
        var h = CoreHarness()
        let (id, out) = initiate(&h, cluster: String(repeating: "c", count: 256))
        XCTAssertEqual(out, [p(id, .deny(reason: s("plexus: limit: a cluster name must be 1 to 255 bytes, got 256"))), .close(id)])
        XCTAssertEqual(h.core.routes.clusterCount, 0)
        let (ok, accepted) = initiate(&h, cluster: String(repeating: "c", count: 255))
        XCTAssertEqual(accepted, [p(ok, .accept(version: s(WireConstants.protocolVersion)))])
    }

    func testSubscriptionToAnEmptyOrOverlongTopicClosesWithTheLimit() {
        var h = CoreHarness()
        let a = h.connect(nil), b = h.connect(nil)
        XCTAssertEqual(h.receive(.subscribe(topic: s("")), from: a),
                       [p(a, .close(reason: s("plexus: limit: a topic name must be 1 to 255 bytes, got 0"))), .close(a)])
        XCTAssertEqual(h.receive(.subscribe(topic: s(String(repeating: "t", count: 256))), from: b),
                       [p(b, .close(reason: s("plexus: limit: a topic name must be 1 to 255 bytes, got 256"))), .close(b)])
        XCTAssertEqual(h.core.routes.topicCount, 0)
        // Others are unaffected.
        let c = h.connect(nil)
        XCTAssertEqual(h.receive(.subscribe(topic: s("ok")), from: c), [])
        XCTAssertEqual(h.core.routes.topicCount, 1)
    }

    func testTopicsBeyondTheRelayWideLimitAreRefusedButExistingOnesStillWork() {
        var h = CoreHarness()
        let a = h.connect(nil), b = h.connect(nil)
        for index in 0..<OverlayLimits.maxTopicsPerRelay {
            XCTAssertEqual(h.receive(.subscribe(topic: s("t\(index)")), from: a), [])
        }
        XCTAssertEqual(h.core.routes.topicCount, OverlayLimits.maxTopicsPerRelay)
        // Another subscriber of an existing topic adds no topic: accepted.
        XCTAssertEqual(h.receive(.subscribe(topic: s("t7")), from: b), [])
        // A new topic is refused with the limit.
        XCTAssertEqual(h.receive(.subscribe(topic: s("one-more")), from: b),
                       [p(b, .close(reason: s(RelayCore.topicLimitReason))), .close(b)])
        XCTAssertEqual(h.core.routes.topicCount, OverlayLimits.maxTopicsPerRelay)
    }

    func testClustersBeyondTheRelayWideLimitAreDeniedButExistingOnesAcceptMembers() {
        var h = CoreHarness()
        for index in 0..<OverlayLimits.maxClustersPerRelay { _ = h.connect("c\(index)") }
        XCTAssertEqual(h.core.routes.clusterCount, OverlayLimits.maxClustersPerRelay)
        let (extra, denied) = initiate(&h, cluster: "one-more")
        XCTAssertEqual(denied, [p(extra, .deny(reason: s(RelayCore.clusterLimitReason))), .close(extra)])
        let (member, accepted) = initiate(&h, cluster: "c3")
        XCTAssertEqual(accepted, [p(member, .accept(version: s(WireConstants.protocolVersion)))])
        XCTAssertEqual(h.core.routes.memberCount(of: WireName(s("c3"))), 2)
    }

    func testTheLimitsAreTheMembershipCodecsLimits() {
        XCTAssertEqual(OverlayLimits.nameBytes, 1...255)
        XCTAssertEqual(PlexusMembership.WireLimits.maxNameLength, OverlayLimits.nameBytes.upperBound)
        XCTAssertEqual(PlexusMembership.WireLimits.maxClustersPerRecord, OverlayLimits.maxClustersPerRelay)
        XCTAssertEqual(PlexusMembership.WireLimits.maxTopicsPerRecord, OverlayLimits.maxTopicsPerRelay)
        XCTAssertTrue(RelayCore.topicLimitReason.contains("\(OverlayLimits.maxTopicsPerRelay)"))
        XCTAssertTrue(RelayCore.clusterLimitReason.contains("\(OverlayLimits.maxClustersPerRelay)"))
    }
}
