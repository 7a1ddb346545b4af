import PlexusMembership
@testable import PlexusPeering
import XCTest

/// The simultaneous-dial rule without sockets: every arrival, and both relays' views agreeing.
final class SessionTieBreakTests: XCTestCase {
    let small = NodeID(high: 0, low: 1)
    let large = NodeID(high: 0, low: 2)

    func testFirstSessionIsAdoptedWhicheverSideDialed() {
        for (local, peer) in [(small, large), (large, small)] {
            XCTAssertEqual(SessionTieBreak.decide(local: local, peer: peer, dialedByUs: true, link: .idle), .adopt)
            XCTAssertEqual(SessionTieBreak.decide(local: local, peer: peer, dialedByUs: false, link: .idle), .adopt)
        }
    }

    func testTheSameSessionTwiceIsIgnored() {
        XCTAssertEqual(SessionTieBreak.decide(local: small, peer: large, dialedByUs: true,
                                              link: .established(isSameSession: true)), .ignore)
    }

    func testInboundWhileDialingKeepsTheDialOfTheSmallerNode() {
        // The smaller node's dial wins: it waits for its own dial and ignores the inbound one.
        XCTAssertEqual(SessionTieBreak.decide(local: small, peer: large, dialedByUs: false, link: .dialing), .awaitOwnDial)
        // The larger node adopts the inbound session (the smaller node dialed it) and drops its own dial.
        XCTAssertEqual(SessionTieBreak.decide(local: large, peer: small, dialedByUs: false, link: .dialing),
                       .adoptAndAbandonOwnDial)
    }

    func testDuplicateEstablishedSessionsEndWithTheSmallerNodesDialOnBothSides() {
        // Two sessions exist: A (dialed by small) and B (dialed by large). Each relay sees the
        // second one arrive while the first is its current session, in either order.
        for firstIsSmallsDial in [true, false] {
            // The small relay's view of the second arrival.
            let smallDecision = SessionTieBreak.decide(local: small, peer: large, dialedByUs: !firstIsSmallsDial,
                                                       link: .established(isSameSession: false))
            // The large relay's view of the second arrival.
            let largeDecision = SessionTieBreak.decide(local: large, peer: small, dialedByUs: firstIsSmallsDial,
                                                       link: .established(isSameSession: false))
            if firstIsSmallsDial {
                // Second is B (large's dial): small reads it until large closes it; large retires it.
                XCTAssertEqual(smallDecision, .readUntilPeerCloses)
                XCTAssertEqual(largeDecision, .retireNew)
            } else {
                // Second is A (small's dial): both switch to it and retire B.
                XCTAssertEqual(smallDecision, .replaceCurrent)
                XCTAssertEqual(largeDecision, .replaceCurrent)
            }
        }
    }
}
