import NIOCore
@testable import PlexusRelayCore
import XCTest

/// The route table reports what the overlay's own directory record must follow.
final class InterestChangeTests: XCTestCase {
    func name(_ text: String) -> WireName { WireName(ByteBuffer(string: text)) }

    func testClusterCountsAndTopicTransitionsAreReportedOnceThenCleared() {
        var routes = RouteTable()
        XCTAssertEqual(routes.takeInterestChanges(), [])
        routes.addMember(ConnectionID(1), to: name("billing"))
        routes.addMember(ConnectionID(2), to: name("billing"))
        _ = routes.subscribe(ConnectionID(1), to: name("orders"))
        _ = routes.subscribe(ConnectionID(2), to: name("orders")) // not a transition
        XCTAssertEqual(routes.takeInterestChanges(), [
            .cluster(Array("billing".utf8), members: 2), .topic(Array("orders".utf8), subscribed: true),
        ])
        XCTAssertEqual(routes.takeInterestChanges(), [])
        _ = routes.unsubscribe(ConnectionID(1), from: name("orders")) // one subscriber left: no transition
        XCTAssertEqual(routes.takeInterestChanges(), [])
        routes.removeMember(ConnectionID(1), from: name("billing"))
        routes.removeMember(ConnectionID(2), from: name("billing"))
        _ = routes.unsubscribe(ConnectionID(2), from: name("orders"))
        XCTAssertEqual(routes.takeInterestChanges(), [
            .cluster(Array("billing".utf8), members: 0), .topic(Array("orders".utf8), subscribed: false),
        ])
    }
}
