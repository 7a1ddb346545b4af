import XCTest
@testable import PlexusMembership

func nodeID(_ value: UInt64) -> NodeID { NodeID(high: 0xAB00 + value, low: value) }
func address(_ value: UInt64) -> NodeAddress { NodeAddress(host: "10.0.0.\(value)", port: 7946) }

/// The single-node tests check mechanics on hand-computed timelines written with memberlist's LAN
/// probe timing (probe 1 s / 500 ms, k = 3, gossip 200 ms); the rest is the `lan` preset. The
/// preset's own timing is exercised by the simulator tests.
let unitTestSettings: MembershipSettings = {
    var settings = MembershipSettings.lan
    settings.probeInterval = 1_000
    settings.probeTimeout = 500
    settings.indirectChecks = 3
    settings.gossipInterval = 200
    return settings
}()

func makeMembership(_ value: UInt64, incarnation: UInt64 = 1, settings: MembershipSettings = unitTestSettings,
                    seeds: [NodeAddress] = [], now: Milliseconds = 0) -> Membership {
    Membership(settings: settings, localID: nodeID(value), localAddress: address(value), initialIncarnation: incarnation,
               seeds: seeds, randomSeed: value, now: now)
}

/// Teaches `membership` about members `values` (alive at incarnation 1) through a gossip packet.
func introduce(_ values: [UInt64], to membership: inout Membership, from sender: UInt64 = 99, now: Milliseconds = 0) {
    let updates = values.map { MembershipUpdate.alive(nodeID($0), incarnation: 1, address: address($0)) }
    _ = membership.receive(MembershipPacket(sender: nodeID(sender), message: .gossip(updates: updates)), now: now)
}

/// Calls `tick` at every scheduled time up to `end` (bounded), returning all directives with their time.
@discardableResult
func runTicks(_ membership: inout Membership, from start: Milliseconds, to end: Milliseconds,
              directives initial: [MembershipDirective] = []) -> [(Milliseconds, MembershipDirective)] {
    var collected: [(Milliseconds, MembershipDirective)] = []
    var next = start
    for directive in initial { if case .scheduleTick(let at) = directive { next = at } }
    var iterations = 0
    while next <= end && iterations < 100_000 {
        iterations += 1
        let now = next
        let directives = membership.tick(now: now)
        next = end + 1
        for directive in directives {
            if case .scheduleTick(let at) = directive { next = max(at, now + 1) } else { collected.append((now, directive)) }
        }
    }
    return collected
}

func changes(_ directives: [(Milliseconds, MembershipDirective)], of id: NodeID) -> [(Milliseconds, MemberStatus)] {
    directives.compactMap { time, directive in
        if case .memberChanged(let change) = directive, change.member.id == id { return (time, change.member.status) }
        return nil
    }
}

func sentPackets(_ directives: [MembershipDirective]) -> [(MembershipPacket, NodeAddress)] {
    directives.compactMap { directive in
        if case .send(let packet, let to, _) = directive { return (packet, to) }
        return nil
    }
}

func updates(in message: MembershipMessage) -> [MembershipUpdate] {
    switch message {
    case .ping(_, _, let updates), .ack(_, let updates), .pingRequest(_, _, _, let updates), .gossip(let updates): updates
    case .nack, .pushPull: []
    }
}

/// Makes `membership` declare `id` dead the only way it does now: hearsay starts a local
/// suspicion, and the local timeout runs out (timers are run directly, without probes).
func declareDeadByTimeout(_ id: NodeID, incarnation: UInt64 = 1, in membership: inout Membership,
                          accuser: UInt64 = 3, now: Milliseconds) {
    _ = membership.receive(MembershipPacket(sender: nodeID(accuser), message: .gossip(updates: [
        .dead(id, incarnation: incarnation, accuser: nodeID(accuser))])), now: now)
    membership.expireSuspicions(now: now + 60_000)
}
