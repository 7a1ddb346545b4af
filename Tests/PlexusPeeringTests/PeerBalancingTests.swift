import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PlexusCrypto
import PlexusMembership
@testable import PlexusPeering
import PlexusRouting
import XCTest

final class PeerBalancingTests: XCTestCase {
    var group: MultiThreadedEventLoopGroup!

    override func setUp() { group = MultiThreadedEventLoopGroup(numberOfThreads: 3) }
    override func tearDown() { try? group.syncShutdownGracefully() }

    /// 1,000 requests from relay A to a cluster served by relays B and C (same zone, equal
    /// capacity), each choice made by `Balancer` over A's in-flight counts: each gets 40–60 %.
    func testThousandRequestsSplitBetweenTwoRelays() async throws {
        let key = NetworkKey.generate()
        let a = try await TestEndpoint(key: key, loop: group.next())
        let b = try await TestEndpoint(key: key, loop: group.next())
        let c = try await TestEndpoint(key: key, loop: group.next())
        let targets = [b.target, c.target]
        let local = PeerRequestEndpoint.membershipID(a.peer.id)
        let answered = NIOLockedValueBox(0)
        for batch in 0..<10 {
            try await a.peer.loop.submit { [endpoint = a.endpoint] in
                var balancer = Balancer(localNode: local, localZone: "z", generator: SystemRandomNumberGenerator())
                for index in 0..<100 {
                    let candidates = targets.map {
                        BalancerCandidate(node: PeerRequestEndpoint.membershipID($0.node), zone: "z", capacity: 64,
                                          inflight: endpoint.value.inflight(to: $0.node))
                    }
                    let choice = balancer.choose(among: candidates)!
                    let target = targets.first { PeerRequestEndpoint.membershipID($0.node) == choice.node }!
                    endpoint.value.request(cluster: ByteBuffer(string: "svc"), payload: ByteBuffer(string: "echo:\(index)"),
                                           to: target.node, host: target.host, port: target.port,
                                           timeout: .seconds(10)) { outcome in
                        if case .success = outcome { answered.withLockedValue { $0 += 1 } }
                    }
                }
            }.get()
            let end = Date().addingTimeInterval(10)
            while answered.withLockedValue({ $0 }) < (batch + 1) * 100, Date() < end {
                try await Task.sleep(nanoseconds: 5_000_000)
            }
        }
        let deadline = Date().addingTimeInterval(10)
        while answered.withLockedValue({ $0 }) < 1000, Date() < deadline { try await Task.sleep(nanoseconds: 10_000_000) }
        XCTAssertEqual(answered.withLockedValue { $0 }, 1000)
        let toB = b.delivered.withLockedValue { $0 }
        let toC = c.delivered.withLockedValue { $0 }
        XCTAssertEqual(toB + toC, 1000)
        XCTAssertTrue((400...600).contains(toB), "B got \(toB)")
        XCTAssertTrue((400...600).contains(toC), "C got \(toC)")
        print("peer-balancing: B \(toB), C \(toC) of 1000")
        await a.peer.shutdown()
        await b.peer.shutdown()
        await c.peer.shutdown()
    }
}
