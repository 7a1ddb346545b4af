// Applying disseminated updates: incarnation ordering, refutation, suspicion and death, leave,
// directory records.

extension Membership {
    mutating func handle(_ packet: MembershipPacket, source: NodeAddress?, now: Milliseconds) {
        let sender = packet.sender
        switch packet.message {
        case .ping(let sequence, let target, let updates):
            apply(updates, now: now)
            handlePing(sequence: sequence, target: target, replyTo: members[sender]?.address ?? source)
        case .ack(let sequence, let updates):
            apply(updates, now: now)
            handleAck(sequence: sequence, now: now)
        case .pingRequest(let sequence, let target, let targetAddress, let updates):
            apply(updates, now: now)
            handlePingRequest(sequence: sequence, target: target, targetAddress: targetAddress,
                              origin: members[sender]?.address ?? source, now: now)
        case .nack(let sequence):
            handleNack(sequence: sequence)
        case .gossip(let updates):
            apply(updates, now: now)
        case .pushPull(let isReply, let remoteMembers, let records):
            merge(remoteMembers, records: records, from: sender, now: now)
            if !isReply, let address = members[sender]?.address ?? source {
                output.append(.send(pushPullPacket(isReply: true), to: address, transport: .stream))
            }
        }
    }

    /// Applies membership updates before records, so a record that travels with the alive update
    /// of its returning owner is not judged against the owner's old (dead) status.
    mutating func apply(_ updates: [MembershipUpdate], now: Milliseconds) {
        for update in updates where !update.isRecord { apply(update, now: now) }
        for update in updates where update.isRecord { apply(update, now: now) }
    }

    mutating func apply(_ update: MembershipUpdate, now: Milliseconds) {
        switch update {
        case .alive(let id, let incarnation, let address):
            applyAlive(id, incarnation: incarnation, address: address, now: now)
        case .suspect(let id, let incarnation, let accuser):
            applySuspect(id, incarnation: incarnation, accuser: accuser, now: now)
        case .dead(let id, let incarnation, let accuser):
            applyDead(id, incarnation: incarnation, accuser: accuser, now: now)
        case .left(let id, let incarnation):
            applyLeft(id, incarnation: incarnation, now: now)
        case .record(let record):
            applyRecord(record)
        }
    }

    /// Answers an accusation (or a stale claim) about ourselves with a higher incarnation.
    mutating func refute(accusedIncarnation: UInt64, wasDeclaredDead: Bool) {
        guard !hasLeft else { return }
        stats.selfRefutations &+= 1
        localIncarnation = max(localIncarnation, accusedIncarnation) + 1
        health.apply(1)
        broadcasts.enqueue(.alive(localID, incarnation: localIncarnation, address: localAddress))
        // Whoever suspected or declared us dead may have dropped our record (a partition merge
        // surfaces as suspicion): publish it again with a higher version.
        publishOwnRecord()
    }

    mutating func applyAlive(_ id: NodeID, incarnation: UInt64, address: NodeAddress, now: Milliseconds,
                             rebroadcast: Bool = true) {
        if id == localID {
            if incarnation > localIncarnation { refute(accusedIncarnation: incarnation, wasDeclaredDead: false) }
            return
        }
        guard let existing = members[id] else {
            members[id] = Member(id: id, address: address, incarnation: incarnation, status: .alive, statusSince: now)
            becomeReachable(id, address: address)
            if rebroadcast { broadcasts.enqueue(.alive(id, incarnation: incarnation, address: address)) }
            output.append(.memberChanged(MemberChange(member: members[id]!, previousStatus: nil)))
            return
        }
        guard incarnation > existing.incarnation else { return }
        var member = existing
        if member.address != address {
            if idsByAddress[member.address] == id { idsByAddress[member.address] = nil }
            member.address = address
        }
        member.incarnation = incarnation
        member.status = .alive
        if existing.status != .alive { member.statusSince = now }
        if existing.status == .suspect { stats.suspicionsRefuted &+= 1 }
        members[id] = member
        suspicions[id] = nil
        if !existing.status.isReachable { becomeReachable(id, address: address) } else { noteSeedAddress(address, of: id) }
        if rebroadcast { broadcasts.enqueue(.alive(id, incarnation: incarnation, address: address)) }
        if existing.status != .alive {
            output.append(.memberChanged(MemberChange(member: member, previousStatus: existing.status)))
        }
    }

    mutating func applySuspect(_ id: NodeID, incarnation: UInt64, accuser: NodeID, now: Milliseconds) {
        if id == localID {
            if incarnation >= localIncarnation { refute(accusedIncarnation: incarnation, wasDeclaredDead: false) }
            return
        }
        guard var member = members[id], member.status.isReachable, incarnation >= member.incarnation else { return }
        if member.status == .suspect && incarnation == member.incarnation {
            if var suspicion = suspicions[id], suspicion.confirm(by: accuser) {
                suspicions[id] = suspicion
                broadcasts.enqueue(.suspect(id, incarnation: incarnation, accuser: accuser))
            }
            return
        }
        let previous = member.status
        member.incarnation = incarnation
        member.status = .suspect
        member.statusSince = now
        members[id] = member
        let minimum = SuspicionTimeout.minimum(memberCount: clusterSize, multiplier: settings.suspicionMultiplier,
                                               unit: settings.suspicionUnit)
        let maximum = Milliseconds(Double(minimum) * settings.suspicionMaxTimeoutMultiplier)
        let expected = min(settings.suspicionExpectedConfirmations, max(clusterSize - 2, 0))
        suspicions[id] = Suspicion(incarnation: incarnation, accuser: accuser, startedAt: now,
                                   minimum: minimum, maximum: maximum, expected: expected)
        broadcasts.enqueue(.suspect(id, incarnation: incarnation, accuser: accuser))
        if previous != .suspect {
            stats.suspicionsRaised &+= 1
            output.append(.memberChanged(MemberChange(member: member, previousStatus: previous)))
        }
    }

    mutating func applyDead(_ id: NodeID, incarnation: UInt64, accuser: NodeID, now: Milliseconds) {
        if id == localID {
            if incarnation >= localIncarnation { refute(accusedIncarnation: incarnation, wasDeclaredDead: true) }
            return
        }
        guard let member = members[id], member.status.isReachable, incarnation >= member.incarnation else { return }
        // Hearsay. The accuser's verdict may be stale (it was cut off, and what it says about
        // members it could not reach says nothing about them), so it starts or confirms a local
        // suspicion: the member hears of it and refutes, or the local timeout declares it dead.
        applySuspect(id, incarnation: incarnation, accuser: accuser, now: now)
    }

    mutating func applyLeft(_ id: NodeID, incarnation: UInt64, now: Milliseconds) {
        if id == localID {
            if incarnation >= localIncarnation { refute(accusedIncarnation: incarnation, wasDeclaredDead: true) }
            return
        }
        guard let member = members[id], member.status != .left, incarnation >= member.incarnation else { return }
        markUnreachable(id, status: .left, incarnation: incarnation, now: now)
        broadcasts.enqueue(.left(id, incarnation: incarnation))
    }

    mutating func applyRecord(_ record: DirectoryRecord, rebroadcast: Bool = true) {
        if record.node == localID {
            // A record from a previous life of this node: move our version above it.
            if record.version > ownRecord.version || (record.version == ownRecord.version && record != ownRecord) {
                ownRecord.version = record.version
                publishOwnRecord()
            }
            return
        }
        // Fast path for the common duplicate (gossip delivers each record many times).
        if let held = directory.version(of: record.node), held >= record.version { return }
        // Records of departed members are refused. Records of dead members are kept but hidden
        // from snapshots (the member may be refuting right now); they go with the tombstone.
        if let member = members[record.node], member.status == .left { return }
        if directory.apply(record) {
            directoryDirty = true
            if rebroadcast { broadcasts.enqueue(.record(record)) }
        }
    }

    mutating func becomeReachable(_ id: NodeID, address: NodeAddress) {
        members.insertPeer(id)
        noteSeedAddress(address, of: id)
        addToProbeOrder(id)
        if rejoinTargets[address]?.isSeed == false { rejoinTargets[address] = nil }
        directory.invalidate()
        if directory.version(of: id) != nil { directoryDirty = true }
    }

    mutating func noteSeedAddress(_ address: NodeAddress, of id: NodeID) {
        if !seedAddresses.isEmpty && seedAddresses.contains(address) { idsByAddress[address] = id }
    }

    mutating func markUnreachable(_ id: NodeID, status: MemberStatus, incarnation: UInt64, now: Milliseconds) {
        guard var member = members[id] else { return }
        let previous = member.status
        member.status = status
        member.incarnation = incarnation
        member.statusSince = now
        members[id] = member
        suspicions[id] = nil
        if previous.isReachable {
            members.removePeer(id)
            broadcasts.remove(subject: id, isRecord: true)
            if directory.remove(id) { directoryDirty = true }
        }
        tombstones.append((id, now))
        if status == .dead {
            recentlyDead.append((id, now))
            if rejoinTargets[member.address] == nil {
                rejoinTargets[member.address] = RejoinTarget(
                    nextAttemptAt: now + settings.rejoinInitialBackoff, backoff: settings.rejoinInitialBackoff,
                    isSeed: false, deadMember: id, deadSince: now)
            }
        } else if rejoinTargets[member.address]?.isSeed == false {
            rejoinTargets[member.address] = nil
        }
        output.append(.memberChanged(MemberChange(member: member, previousStatus: previous)))
    }

    /// Declares dead every suspect whose suspicion ran out.
    mutating func expireSuspicions(now: Milliseconds) {
        guard !suspicions.isEmpty else { return }
        let due = suspicions.filter { $0.value.deadline <= now }.keys.sorted()
        for id in due {
            guard let suspicion = suspicions.removeValue(forKey: id) else { continue }
            guard let member = members[id], member.status == .suspect, member.incarnation == suspicion.incarnation
            else { continue }
            if hasFreshEvidence(of: id, now: now) {
                // A live session says it is there: keep suspecting (it has not refuted yet) but
                // do not declare it dead, and ask it again to refute.
                suspicions[id] = Suspicion(incarnation: suspicion.incarnation, accuser: localID, startedAt: now,
                                           minimum: suspicion.minimum, maximum: suspicion.maximum,
                                           expected: suspicion.expected)
                promptRefutation(of: member, now: now)
                continue
            }
            stats.membersDeclaredDead &+= 1
            markUnreachable(id, status: .dead, incarnation: member.incarnation, now: now)
            broadcasts.enqueue(.dead(id, incarnation: member.incarnation, accuser: localID))
        }
    }

    /// Forgets dead/left members whose tombstone is older than `tombstoneLifetime`.
    mutating func reapTombstones(now: Milliseconds) {
        while tombstoneHead < tombstones.count, tombstones[tombstoneHead].since + settings.tombstoneLifetime <= now {
            let (id, since) = tombstones[tombstoneHead]
            tombstoneHead += 1
            guard let member = members[id], !member.status.isReachable, member.statusSince == since else { continue }
            members[id] = nil
            reachabilityEvidence[id] = nil
            lastRefutationPrompt[id] = nil
            if idsByAddress[member.address] == id { idsByAddress[member.address] = nil }
            _ = directory.remove(id)
        }
        if tombstoneHead > 1_024 && tombstoneHead * 2 > tombstones.count {
            tombstones.removeFirst(tombstoneHead)
            tombstoneHead = 0
        }
    }
}
