import XCTest
@testable import PlexusMembership

final class AddSeedsTests: XCTestCase {
    func testAddedSeedIsContactedAtTheNextRejoinCheckAndOwnAddressIsIgnored() {
        var membership = makeMembership(1)
        let start = membership.start(now: 0)
        XCTAssertFalse(start.contains { if case .attemptJoin = $0 { true } else { false } })
        _ = membership.addSeeds([address(2), address(1)], now: 100)
        let directives = runTicks(&membership, from: 100, to: 2_000).map(\.1)
        let joins = directives.compactMap { directive -> NodeAddress? in
            if case .attemptJoin(let target) = directive { target } else { nil }
        }
        XCTAssertEqual(joins, [address(2)])
    }
}
