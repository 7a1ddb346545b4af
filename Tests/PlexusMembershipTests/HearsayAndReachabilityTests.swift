import XCTest
@testable import PlexusMembership

/// Issue 10, defect 4: hearsay (deaths and suspicions reported by others) against fresher
/// incarnations and live sessions; quick refutation.
final class HearsayAndReachabilityTests: XCTestCase {
    private func gossip(from sender: UInt64, _ updates: [MembershipUpdate]) -> MembershipPacket {
        MembershipPacket(sender: nodeID(sender), message: .gossip(updates: updates))
    }

    func testHearsayDeathOfAnAliveMemberIsOnlyASuspicion() {
        var a = makeMembership(1)
        introduce([2, 3], to: &a)
        let directives = a.receive(gossip(from: 3, [.dead(nodeID(2), incarnation: 1, accuser: nodeID(3))]), now: 0)
        XCTAssertEqual(a.member(nodeID(2))?.status, .suspect)
        XCTAssertFalse(directives.contains { if case .memberChanged(let change) = $0 { change.member.status == .dead } else { false } })
        XCTAssertTrue(a.pendingBroadcasts.contains(.suspect(nodeID(2), incarnation: 1, accuser: nodeID(3))))
        XCTAssertFalse(a.pendingBroadcasts.contains { if case .dead = $0 { true } else { false } },
                       "a hearsay death is not passed on as a death")
        XCTAssertEqual(a.reachablePeerCount, 2, "still served by the directory while suspected")
    }

    func testStaleDeathOrSuspicionNeverOverridesAFresherIncarnation() {
        var a = makeMembership(1)
        introduce([2, 3], to: &a)
        _ = a.receive(gossip(from: 2, [.alive(nodeID(2), incarnation: 4, address: address(2))]), now: 0)
        _ = a.receive(gossip(from: 3, [.dead(nodeID(2), incarnation: 3, accuser: nodeID(3)),
                                       .suspect(nodeID(2), incarnation: 2, accuser: nodeID(3))]), now: 10)
        XCTAssertEqual(a.member(nodeID(2))?.status, .alive)
        XCTAssertEqual(a.member(nodeID(2))?.incarnation, 4)
        // Nor through a push-pull merge.
        _ = a.receive(MembershipPacket(sender: nodeID(3), message: .pushPull(isReply: true, members: [
            MemberState(id: nodeID(2), address: address(2), incarnation: 3, status: .dead)], records: [])), now: 20)
        XCTAssertEqual(a.member(nodeID(2))?.status, .alive)
    }

    func testAccusedNodeRefutesStraightBackToItsAccuser() {
        var b = makeMembership(2, incarnation: 5)
        introduce([3], to: &b)
        let directives = b.receive(gossip(from: 3, [.dead(nodeID(2), incarnation: 5, accuser: nodeID(3))]), now: 0)
        XCTAssertEqual(b.localIncarnation, 6)
        let direct = sentPackets(directives).filter { $0.1 == address(3) }
        XCTAssertTrue(direct.contains { updates(in: $0.0.message).contains(.alive(nodeID(2), incarnation: 6, address: address(2))) },
                      "the refutation goes to the accuser at once, not at the next gossip round")
        XCTAssertTrue(b.pendingBroadcasts.contains(.alive(nodeID(2), incarnation: 6, address: address(2))),
                      "and is gossiped to everyone else")
        // An accusation at an older incarnation needs no answer.
        let old = b.receive(gossip(from: 3, [.suspect(nodeID(2), incarnation: 5, accuser: nodeID(3))]), now: 10)
        XCTAssertEqual(b.localIncarnation, 6)
        XCTAssertTrue(sentPackets(old).isEmpty)
    }

    func testLiveSessionKeepsASuspicionFromBecomingADeath() {
        var a = makeMembership(1)
        introduce([2, 3], to: &a)
        _ = a.receive(gossip(from: 3, [.suspect(nodeID(2), incarnation: 1, accuser: nodeID(3))]), now: 0)
        // The node reports traffic on its session with 2 every 250 ms for 20 s: no death.
        var now: Milliseconds = 0
        for _ in 0..<80 {
            now += 250
            _ = a.peerIsReachable(nodeID(2), now: now)
            a.expireSuspicions(now: now)
        }
        XCTAssertEqual(a.member(nodeID(2))?.status, .suspect)
        // The session goes quiet: once the evidence is stale, the (re-armed) suspicion runs out.
        XCTAssertFalse(a.hasFreshEvidence(of: nodeID(2), now: now + a.settings.reachabilityEvidenceLifetime))
        a.expireSuspicions(now: now + a.settings.reachabilityEvidenceLifetime + 60_000)
        XCTAssertEqual(a.member(nodeID(2))?.status, .dead)
    }

    func testReachabilityPromptsASuspectedMemberToRefuteAtMostOncePerInterval() {
        var a = makeMembership(1)
        introduce([2, 3], to: &a)
        XCTAssertTrue(sentPackets(a.peerIsReachable(nodeID(2), now: 0)).isEmpty, "alive: nothing to say")
        _ = a.receive(gossip(from: 3, [.suspect(nodeID(2), incarnation: 1, accuser: nodeID(3))]), now: 10)
        let first = sentPackets(a.peerIsReachable(nodeID(2), now: 20))
        XCTAssertEqual(first.count, 1)
        XCTAssertEqual(first.first?.1, address(2))
        XCTAssertEqual(first.first.map { updates(in: $0.0.message) }, [.suspect(nodeID(2), incarnation: 1, accuser: nodeID(1))])
        XCTAssertTrue(sentPackets(a.peerIsReachable(nodeID(2), now: 30)).isEmpty, "rate-limited")
        XCTAssertEqual(sentPackets(a.peerIsReachable(nodeID(2), now: 20 + a.settings.refutationPromptInterval)).count, 1)
    }

    func testReachabilityOfAMemberDeclaredDeadRevivesItThroughItsRefutation() {
        var a = makeMembership(1)
        var b = makeMembership(2)
        introduce([2, 3], to: &a)
        introduce([1, 3], to: &b)
        declareDeadByTimeout(nodeID(2), in: &a, now: 0)
        XCTAssertEqual(a.member(nodeID(2))?.status, .dead)
        // A live session with 2 is reported: 2 is told, refutes straight back, and is alive again.
        var inFlight = sentPackets(a.peerIsReachable(nodeID(2), now: 70_000)).filter { $0.1 == address(2) }.map(\.0)
        XCTAssertEqual(inFlight.count, 1)
        var rounds = 0
        while !inFlight.isEmpty && rounds < 4 {
            rounds += 1
            var next: [MembershipPacket] = []
            for packet in inFlight {
                let (receiver, from) = packet.sender == nodeID(1) ? (2, address(1)) : (1, address(2))
                let replies = receiver == 2 ? b.receive(packet, from: from, now: 70_000 + Milliseconds(rounds))
                    : a.receive(packet, from: from, now: 70_000 + Milliseconds(rounds))
                next += sentPackets(replies).filter { $0.1 == (receiver == 2 ? address(1) : address(2)) }.map(\.0)
            }
            inFlight = next
        }
        XCTAssertEqual(b.localIncarnation, 2)
        XCTAssertEqual(a.member(nodeID(2))?.status, .alive)
        XCTAssertEqual(a.member(nodeID(2))?.incarnation, 2)
    }

    func testAPacketFromAMemberDeclaredDeadPromptsItToRefute() {
        var a = makeMembership(1)
        introduce([2, 3], to: &a)
        declareDeadByTimeout(nodeID(2), in: &a, now: 0)
        // Relay 2 was frozen (SIGSTOP) and resumes: its first probe reaches us.
        let directives = a.receive(MembershipPacket(sender: nodeID(2), message: .ping(sequence: 1, target: nodeID(1), updates: [])),
                                   from: address(2), now: 70_000)
        func isPrompt(_ packet: MembershipPacket) -> Bool {
            if case .gossip(let updates) = packet.message { updates.contains { if case .dead(nodeID(2), _, _) = $0 { true } else { false } } } else { false }
        }
        let prompts = sentPackets(directives).filter { $0.1 == address(2) && isPrompt($0.0) }
        XCTAssertEqual(prompts.count, 1, "the resumed member is told it was declared dead")
        let again = a.receive(MembershipPacket(sender: nodeID(2), message: .ping(sequence: 2, target: nodeID(1), updates: [])),
                              from: address(2), now: 70_010)
        XCTAssertFalse(sentPackets(again).contains { isPrompt($0.0) }, "rate-limited")
    }

    func testReachabilityReportsAboutSelfUnknownOrDepartedMembersAreIgnored() {
        var a = makeMembership(1)
        introduce([2, 3], to: &a)
        _ = a.receive(gossip(from: 3, [.left(nodeID(3), incarnation: 1)]), now: 0)
        for id in [nodeID(1), nodeID(9), nodeID(3)] {
            XCTAssertTrue(sentPackets(a.peerIsReachable(id, now: 10)).isEmpty)
            XCTAssertFalse(a.hasFreshEvidence(of: id, now: 10))
        }
        XCTAssertEqual(a.member(nodeID(3))?.status, .left)
    }
}
