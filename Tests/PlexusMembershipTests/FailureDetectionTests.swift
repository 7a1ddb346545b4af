import XCTest
@testable import PlexusMembership

/// SWIM/Lifeguard behaviour of one state machine on virtual time.
final class FailureDetectionTests: XCTestCase {
    func testSilentMemberIsSuspectedThenDeclaredDead() {
        var a = makeMembership(1)
        introduce([2], to: &a)
        let log = runTicks(&a, from: 0, to: 20_000)
        let seen = changes(log, of: nodeID(2))
        XCTAssertEqual(seen.map(\.1), [.suspect, .dead])
        // Probe at 0 fails at the end of the protocol period (1 s); N = 2 → no confirmations expected,
        // so the minimum suspicion timeout applies: 1.5 × max(1, log10 2) × 500 ms = 750 ms.
        XCTAssertEqual(seen.first?.0, 1_000)
        XCTAssertEqual(seen.last?.0, 1_750)
        XCTAssertEqual(a.member(nodeID(2))?.status, .dead)
        let stats = a.statistics
        XCTAssertEqual(stats.probesSent, 2, "at 0 (failed: suspect) and at 1 000 (the buddy probe, unanswered)")
        XCTAssertEqual(stats.probesFailed, 2)
        XCTAssertEqual(stats.probesAcknowledged, 0)
        XCTAssertEqual(stats.suspicionsRaised, 1)
        XCTAssertEqual(stats.membersDeclaredDead, 1)
        XCTAssertEqual(stats.suspicionsRefuted, 0)
    }

    func testSuspectedMemberThatRefutesStaysAlive() {
        var a = makeMembership(1)
        var b = makeMembership(2)
        introduce([2], to: &a)
        let first = runTicks(&a, from: 0, to: 1_000)
        XCTAssertEqual(changes(first, of: nodeID(2)).map(\.1), [.suspect])
        // The probe started at 1 000 carries the suspicion first (buddy system).
        guard let ping = first.compactMap({ time, directive -> MembershipPacket? in
            if time == 1_000, case .send(let packet, _, _) = directive, case .ping = packet.message { return packet }
            return nil
        }).first else { return XCTFail("no ping at 1 000") }
        XCTAssertEqual(updates(in: ping.message).first, .suspect(nodeID(2), incarnation: 1, accuser: nodeID(1)))
        let reply = b.receive(ping, from: address(1), now: 1_005)
        XCTAssertEqual(b.localIncarnation, 2, "b refutes with a higher incarnation")
        guard let ack = sentPackets(reply).first?.0 else { return XCTFail("no ack") }
        XCTAssertTrue(updates(in: ack.message).contains(.alive(nodeID(2), incarnation: 2, address: address(2))))
        let afterAck = a.receive(ack, from: address(2), now: 1_010)
        XCTAssertEqual(changes(afterAck.map { (1_010, $0) }, of: nodeID(2)).map(\.1), [.alive])
        // The old suspicion (deadline 1 750) must not fire.
        let later = runTicks(&a, from: 1_010, to: 2_900)
        XCTAssertFalse(changes(later, of: nodeID(2)).contains { $0.1 == .dead })
        XCTAssertEqual(a.member(nodeID(2))?.incarnation, 2)
        XCTAssertEqual(a.statistics.suspicionsRaised, 1)
        XCTAssertEqual(a.statistics.suspicionsRefuted, 1, "a false suspicion, refuted")
        XCTAssertEqual(a.statistics.membersDeclaredDead, 0)
        XCTAssertEqual(a.statistics.probesAcknowledged, 1, "the probe sent at 1 000 was acknowledged")
        XCTAssertEqual(a.statistics.probeRoundTrip.count, 1)
        XCTAssertEqual(a.statistics.probeRoundTrip.sumNanoseconds, 10_000_000, "sent at 1 000, acknowledged at 1 010")
        XCTAssertEqual(b.statistics.selfRefutations, 1)
    }

    func testConfirmationsShortenSuspicion() {
        var settings = unitTestSettings
        settings.probeInterval = 1_000_000   // keep this node's own probes out of the way
        settings.probeTimeout = 500_000
        var a = makeMembership(1, settings: settings)
        introduce(Array(2...11), to: &a)
        _ = a.receive(MembershipPacket(sender: nodeID(2), message: .gossip(updates: [
            .suspect(nodeID(5), incarnation: 1, accuser: nodeID(2)),
            .suspect(nodeID(6), incarnation: 1, accuser: nodeID(2)),
        ])), now: 0)
        _ = a.receive(MembershipPacket(sender: nodeID(3), message: .gossip(updates: [
            .suspect(nodeID(5), incarnation: 1, accuser: nodeID(3))])), now: 100)
        _ = a.receive(MembershipPacket(sender: nodeID(4), message: .gossip(updates: [
            .suspect(nodeID(5), incarnation: 1, accuser: nodeID(4))])), now: 200)
        let log = runTicks(&a, from: 200, to: 20_000)
        let minimum = SuspicionTimeout.minimum(memberCount: 11, multiplier: 1.5, unit: 500)
        let maximum = Milliseconds(Double(minimum) * 6)
        XCTAssertEqual(changes(log, of: nodeID(5)).first?.0, minimum, "two confirmations: minimum timeout")
        XCTAssertEqual(changes(log, of: nodeID(6)).first?.0, maximum, "no confirmation: maximum timeout")
    }

    func testSlowLocalNodeStretchesItsOwnTimeouts() {
        var a = makeMembership(1)
        introduce([2, 3, 4, 5], to: &a)
        let log = runTicks(&a, from: 0, to: 3_500)
        var pingTimes: [Milliseconds] = []
        var pingRequestTimes: [Milliseconds] = []
        for (time, directive) in log {
            guard case .send(let packet, _, _) = directive else { continue }
            if case .ping = packet.message { pingTimes.append(time) }
            if case .pingRequest = packet.message, !pingRequestTimes.contains(time) { pingRequestTimes.append(time) }
        }
        // Healthy: indirect probes 500 ms after the ping. Then no ack and no nack from any of the
        // three helpers (Lifeguard: our own network is suspect) → score 3 → timeouts × 4.
        XCTAssertEqual(pingTimes.prefix(2), [0, 1_000])
        XCTAssertEqual(pingRequestTimes.prefix(2), [500, 3_000])
        XCTAssertGreaterThanOrEqual(a.health.score, 3)
    }

    func testNacksKeepLocalHealthGood() {
        var a = makeMembership(1)
        introduce([2, 3, 4, 5], to: &a)
        var log = runTicks(&a, from: 0, to: 500)
        let requests = log.compactMap { _, directive -> UInt32? in
            if case .send(let packet, _, _) = directive, case .pingRequest(let sequence, _, _, _) = packet.message { return sequence }
            return nil
        }
        XCTAssertEqual(requests.count, 3)
        for (index, sequence) in requests.enumerated() {
            _ = a.receive(MembershipPacket(sender: nodeID(UInt64(3 + index)), message: .nack(sequence: sequence)), now: 900)
        }
        log = runTicks(&a, from: 900, to: 1_000)
        XCTAssertEqual(a.health.score, 0, "all helpers answered: the target, not us, is the problem")
    }

    func testIncarnationRaceOnRestartResolves() {
        // The cluster declared node 2 dead at incarnation 5; node 2 restarts at incarnation 1.
        var restarted = makeMembership(2, incarnation: 1)
        _ = restarted.receive(MembershipPacket(sender: nodeID(1), message: .gossip(updates: [
            .dead(nodeID(2), incarnation: 5, accuser: nodeID(1))])), now: 0)
        XCTAssertEqual(restarted.localIncarnation, 6)
        XCTAssertTrue(restarted.pendingBroadcasts.contains(.alive(nodeID(2), incarnation: 6, address: address(2))))

        var observer = makeMembership(1)
        introduce([2], to: &observer)
        _ = observer.receive(MembershipPacket(sender: nodeID(3), message: .gossip(updates: [
            .dead(nodeID(2), incarnation: 5, accuser: nodeID(3))])), now: 0)
        XCTAssertEqual(observer.member(nodeID(2))?.status, .suspect, "hearsay death is only a suspicion")
        observer.expireSuspicions(now: 60_000)
        XCTAssertEqual(observer.member(nodeID(2))?.status, .dead)
        // Stale alive (same incarnation) cannot revive it …
        _ = observer.receive(MembershipPacket(sender: nodeID(2), message: .gossip(updates: [
            .alive(nodeID(2), incarnation: 5, address: address(2))])), now: 10)
        XCTAssertEqual(observer.member(nodeID(2))?.status, .dead)
        // … the refutation can.
        _ = observer.receive(MembershipPacket(sender: nodeID(2), message: .gossip(updates: [
            .alive(nodeID(2), incarnation: 6, address: address(2))])), now: 20)
        XCTAssertEqual(observer.member(nodeID(2))?.status, .alive)

        // A restart that takes its incarnation from the wall clock is accepted at once, even at a new address.
        declareDeadByTimeout(nodeID(2), incarnation: 6, in: &observer, now: 30)
        XCTAssertEqual(observer.member(nodeID(2))?.status, .dead)
        let moved = NodeAddress(host: "10.9.9.9", port: 7000)
        _ = observer.receive(MembershipPacket(sender: nodeID(2), message: .gossip(updates: [
            .alive(nodeID(2), incarnation: 1_763_780_000, address: moved)])), now: 40)
        XCTAssertEqual(observer.member(nodeID(2))?.status, .alive)
        XCTAssertEqual(observer.member(nodeID(2))?.address, moved)
    }

    func testPushPullDoesNotReviveDeadMemberWithStaleState() {
        var a = makeMembership(1)
        introduce([2, 3, 4], to: &a)
        declareDeadByTimeout(nodeID(2), in: &a, now: 0)
        XCTAssertEqual(a.member(nodeID(2))?.status, .dead)
        let staleState: [MemberState] = [
            MemberState(id: nodeID(3), address: address(3), incarnation: 1, status: .alive),
            MemberState(id: nodeID(2), address: address(2), incarnation: 1, status: .alive),
            MemberState(id: nodeID(4), address: address(4), incarnation: 1, status: .dead),
        ]
        let record = DirectoryRecord(node: nodeID(2), version: 99, addresses: [address(2)], zone: "z",
                                     clusters: [ClusterCapacity(cluster: "billing", capacity: 4)])
        let reply = a.receive(MembershipPacket(sender: nodeID(3), message: .pushPull(isReply: false, members: staleState,
                                                                                    records: [record])), now: 10)
        XCTAssertEqual(a.member(nodeID(2))?.status, .dead, "stale alive must not revive a tombstone")
        XCTAssertTrue(a.directorySnapshot().relays(servingCluster: "billing").isEmpty, "nor its record")
        XCTAssertEqual(a.member(nodeID(4))?.status, .suspect, "remote dead about a live member is only a suspicion")
        XCTAssertTrue(reply.contains { if case .send(let packet, _, .stream) = $0, case .pushPull(true, _, _) = packet.message { true } else { false } })
        // A genuinely newer incarnation does revive it.
        _ = a.receive(MembershipPacket(sender: nodeID(3), message: .pushPull(isReply: true, members: [
            MemberState(id: nodeID(2), address: address(2), incarnation: 2, status: .alive)], records: [record])), now: 20)
        XCTAssertEqual(a.member(nodeID(2))?.status, .alive)
        XCTAssertEqual(a.directorySnapshot().relays(servingCluster: "billing").map(\.node), [nodeID(2)])
    }

    func testTombstonesExpire() {
        var a = makeMembership(1)
        introduce([2, 3], to: &a)
        _ = a.receive(MembershipPacket(sender: nodeID(3), message: .gossip(updates: [
            .left(nodeID(2), incarnation: 1)])), now: 0)
        XCTAssertEqual(a.member(nodeID(2))?.status, .left)
        runTicks(&a, from: 0, to: MembershipSettings.lan.tombstoneLifetime - 1_000)
        XCTAssertNotNil(a.member(nodeID(2)), "still a tombstone")
        runTicks(&a, from: MembershipSettings.lan.tombstoneLifetime - 1_000, to: MembershipSettings.lan.tombstoneLifetime + 2_000)
        XCTAssertNil(a.member(nodeID(2)), "tombstone reaped")
    }

    func testPacketsStayWithinBudgetAndLargeRecordsUseTheStream() {
        var a = makeMembership(1)
        introduce(Array(2...300), to: &a)
        var topics: [OwnRecordChange] = []
        for index in 0..<100 { topics.append(.subscribeTopic(Name("a-rather-long-topic-name-number-\(index)"))) }
        let directives = a.updateOwnRecord(topics, now: 0)
        XCTAssertTrue(directives.contains(.directoryChanged))
        let log = runTicks(&a, from: 0, to: 5_000)
        var sawStream = false
        for (_, directive) in log {
            guard case .send(let packet, _, let transport) = directive else { continue }
            let size = MembershipEncoder.encode(packet).count
            if transport == .datagram { XCTAssertLessThanOrEqual(size, 1_400) }
            if transport == .stream, case .gossip(let updates) = packet.message, case .record = updates.first { sawStream = true }
        }
        XCTAssertTrue(sawStream, "a record larger than a datagram goes via the stream path")
    }
}

/// Gossip to the recently dead must not take the place of a live peer in a small overlay.
final class GossipToTheDeadTests: XCTestCase {
    /// Two live members and one just declared dead (the CI failure of
    /// `OverlayLoopbackTests.testThreeOverlaysJoinExchangeRecordsAndDetectDeath`): every gossip
    /// round of a leaving member must reach the one live peer, whatever the dice say.
    func testALeaveReachesTheOnlyLivePeerInEveryRoundWhileAMemberIsRecentlyDead() {
        for seed: UInt64 in 1...40 {
            var b = Membership(settings: unitTestSettings, localID: nodeID(2), localAddress: address(2),
                               initialIncarnation: 1, seeds: [], randomSeed: seed, now: 0)
            introduce([1, 3], to: &b)
            declareDeadByTimeout(nodeID(3), in: &b, accuser: 1, now: 10)
            XCTAssertEqual(b.member(nodeID(3))?.status, .dead)
            var rounds: [[MembershipDirective]] = [b.leave(now: 61_000)]
            for step in 1...6 { rounds.append(b.tick(now: 61_000 + Milliseconds(step) * unitTestSettings.gossipInterval)) }
            let roundsWithGossip = rounds.filter { directives in
                sentPackets(directives).contains { packet, _ in if case .gossip = packet.message { return true } else { return false } }
            }
            XCTAssertFalse(roundsWithGossip.isEmpty, "seed \(seed): the leave was never gossiped")
            for (index, directives) in roundsWithGossip.enumerated() {
                let targets = sentPackets(directives).compactMap { packet, to -> NodeAddress? in
                    if case .gossip = packet.message { return to } else { return nil }
                }
                XCTAssertTrue(targets.contains(address(1)), "seed \(seed), gossip round \(index): the live peer was skipped (\(targets))")
            }
        }
    }
}
