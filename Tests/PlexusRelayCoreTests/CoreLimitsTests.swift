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

/// The relay-wide budget for unfinished input and the per-member bound on pending requests.
final class CoreBudgetTests: XCTestCase {
    let s = CoreHarness.s

    func testInputBudgetClosesOnlyTheConnectionThatCrossesIt() {
        var h = CoreHarness { $0.inputBudgetBytes = 1_000 }
        let a = h.connect(nil), b = h.connect(nil)
        h.core.inputBuffered(a, bytes: 600)
        XCTAssertEqual(h.collect(), [])
        h.core.inputBuffered(b, bytes: 300)
        XCTAssertEqual(h.collect(), [])
        h.core.inputBuffered(b, bytes: 500) // 1,100 > 1,000: b grew across the budget
        let out = h.collect()
        XCTAssertEqual(out.count, 2)
        XCTAssertEqual(out.last, .close(b))
        guard case .packet(b, .close(let reason)) = out.first else { return XCTFail("\(out)") }
        XCTAssertTrue(String(buffer: reason).contains("input budget of 1000 bytes"))
        XCTAssertEqual(h.core.statistics.bufferedInputBytes, 600, "b's bytes are released with it")
        XCTAssertEqual(h.core.statistics.inputBudgetRefusals, 1)
        h.core.inputBuffered(a, bytes: 0)
        XCTAssertEqual(h.core.statistics.bufferedInputBytes, 0)
        XCTAssertEqual(h.core.statistics.peakBufferedInputBytes, 1_100)
    }

    func testAMemberWithTooManyPendingRequestsCountsAsOverloaded() {
        var h = CoreHarness { $0.maxPendingPerMember = 2 }
        let svc = h.connect("svc"), c = h.connect(nil)
        for id in 1...2 {
            XCTAssertEqual(h.receive(.request(id: UInt64(id), cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 1000), from: c).count, 1)
        }
        XCTAssertEqual(h.receive(.request(id: 3, cluster: s("svc"), payload: s("q"), timeoutMilliseconds: 1000), from: c),
                       [p(c, .reply(id: 3, result: .fault(s("plexus: service overloaded"))))])
        XCTAssertEqual(h.core.connections[svc]?.delivered.count, 2)
    }
}
