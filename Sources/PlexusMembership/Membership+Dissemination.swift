// Dissemination and repair: gossip rounds, push-pull anti-entropy, the rejoin loop.

extension Membership {
    /// One gossip round to `gossipFanout` random members (and, sometimes, a recently dead one).
    mutating func runGossip(now: Milliseconds) {
        guard now >= nextGossipAt else { return }
        nextGossipAt = max(nextGossipAt + settings.gossipInterval, now - settings.gossipInterval)
        if nextGossipAt <= now { nextGossipAt = now + settings.gossipInterval }
        guard !broadcasts.isEmpty else { return }
        var targets = members.randomPeers(settings.gossipFanout, using: &random)
        if let deadTarget = gossipToTheDeadTarget(now: now) {
            // The dead target takes a free fan-out slot; it displaces a live peer only when the
            // fan-out is full. With fewer live peers than the fan-out (a small overlay), replacing
            // one would skip a live peer for the whole round: a leave could then reach nobody.
            if targets.count < settings.gossipFanout { targets.append(deadTarget) } else { targets[targets.count - 1] = deadTarget }
        }
        let datagramBudget = settings.packetBudget - MembershipEncoder.headerSize - 1
        for target in targets {
            guard let address = members[target]?.address else { continue }
            if let oversized = broadcasts.takeOversized(limit: retransmitLimit) {
                send(.gossip(updates: [oversized]), to: address, transport: .stream)
            }
            let updates = broadcasts.select(budget: datagramBudget, maxCount: WireLimits.maxUpdatesPerMessage,
                                            limit: retransmitLimit)
            if !updates.isEmpty { send(.gossip(updates: updates), to: address) }
        }
    }

    /// A member declared dead less than `gossipToTheDeadTime` ago, chosen with probability
    /// proportional to how many there are, so a falsely accused member hears about it and refutes.
    mutating func gossipToTheDeadTarget(now: Milliseconds) -> NodeID? {
        while let first = recentlyDead.first, first.since + settings.gossipToTheDeadTime <= now {
            recentlyDead.removeFirst()
        }
        guard !recentlyDead.isEmpty, members.peerCount > 0 else { return nil }
        let total = UInt64(recentlyDead.count + members.peerCount)
        guard random.next() % total < UInt64(recentlyDead.count) else { return nil }
        let candidate = recentlyDead[Int(random.next() % UInt64(recentlyDead.count))].id
        return members[candidate]?.status == .dead ? candidate : nil
    }

    /// Periodic full-state exchange with one random member.
    mutating func runPushPull(now: Milliseconds) {
        guard now >= nextPushPullAt else { return }
        nextPushPullAt = now + settings.pushPullInterval(memberCount: clusterSize)
        guard let target = members.randomPeers(1, using: &random).first, let address = members[target]?.address
        else { return }
        output.append(.send(pushPullPacket(isReply: false), to: address, transport: .stream))
    }

    /// Our full state: every known member (tombstones included) and every reachable record.
    func pushPullPacket(isReply: Bool) -> MembershipPacket {
        var states = [MemberState(id: localID, address: localAddress, incarnation: localIncarnation,
                                  status: hasLeft ? .left : .alive)]
        states.reserveCapacity(members.count + 1)
        for member in members.values.sorted(by: { $0.id < $1.id }) {
            states.append(MemberState(id: member.id, address: member.address, incarnation: member.incarnation,
                                      status: member.status))
        }
        var records = [ownRecord]
        for (id, record) in directory.records.sorted(by: { $0.key < $1.key })
        where id != localID && members[id]?.status.isReachable == true {
            records.append(record)
        }
        return packet(.pushPull(isReply: isReply, members: states, records: records))
    }

    /// Merges remote full state. Alive entries and records learned this way are not re-gossiped
    /// (except the sender's own): push-pull is the repair path, and re-gossiping a whole state
    /// after every join would flood the queues. Remote "dead" about a member we see reachable only raises a
    /// suspicion (it may be stale, and the member gets time to refute); remote "alive" never
    /// overrides a tombstone at the same or a lower incarnation.
    mutating func merge(_ remoteMembers: [MemberState], records: [DirectoryRecord], from sender: NodeID, now: Milliseconds) {
        for state in remoteMembers {
            switch state.status {
            case .alive:
                applyAlive(state.id, incarnation: state.incarnation, address: state.address, now: now,
                           rebroadcast: state.id == sender)
            case .suspect:
                if state.id != localID && members[state.id] == nil {
                    applyAlive(state.id, incarnation: state.incarnation, address: state.address, now: now,
                               rebroadcast: false)
                }
                applySuspect(state.id, incarnation: state.incarnation, accuser: sender, now: now)
            case .dead:
                // About self: refuted. About others: only a suspicion (see `applyDead`).
                applyDead(state.id, incarnation: state.incarnation, accuser: sender, now: now)
            case .left:
                applyLeft(state.id, incarnation: state.incarnation, now: now)
            }
        }
        for record in records { applyRecord(record, rebroadcast: record.node == sender) }
    }

    /// Retries one due seed or recently dead member (exponential backoff), so split overlays merge.
    mutating func runRejoin(now: Milliseconds) {
        guard now >= nextRejoinCheckAt else { return }
        nextRejoinCheckAt = now + settings.rejoinCheckInterval
        guard !rejoinTargets.isEmpty else { return }
        var due: [NodeAddress] = []
        var expired: [NodeAddress] = []
        for (address, target) in rejoinTargets {
            if !target.isSeed {
                let stillDead = target.deadMember.flatMap { members[$0] }.map { $0.status == .dead } ?? false
                if !stillDead || target.deadSince + settings.rejoinDeadRetention <= now {
                    expired.append(address)
                    continue
                }
            } else if let id = idsByAddress[address], members[id]?.status.isReachable == true {
                rejoinTargets[address]?.backoff = settings.rejoinInitialBackoff
                rejoinTargets[address]?.nextAttemptAt = now + settings.rejoinInitialBackoff
                continue
            }
            if target.nextAttemptAt <= now { due.append(address) }
        }
        for address in expired { rejoinTargets[address] = nil }
        guard !due.isEmpty else { return }
        due.sort { $0.host == $1.host ? $0.port < $1.port : $0.host < $1.host }
        let address = due[Int(random.next() % UInt64(due.count))]
        guard var target = rejoinTargets[address] else { return }
        target.nextAttemptAt = now + target.backoff
        target.backoff = min(target.backoff * 2, settings.rejoinMaxBackoff)
        rejoinTargets[address] = target
        output.append(.attemptJoin(address))
    }
}
