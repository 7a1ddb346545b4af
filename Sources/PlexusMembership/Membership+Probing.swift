// SWIM failure detection: randomized round-robin probes, indirect probes through k members,
// Lifeguard nacks and local health, the buddy system.

extension Membership {
    /// Advances the current probe or starts the next one.
    mutating func runProbe(now: Milliseconds) {
        if var probe = currentProbe {
            if !probe.indirectSent && now >= probe.timeoutAt {
                sendIndirectProbes(&probe)
                currentProbe = probe
            }
            if now >= probe.endAt {
                finishFailedProbe(probe, now: now)
                currentProbe = nil
            } else {
                return
            }
        }
        guard now >= nextProbeAt else { return }
        let interval = health.scale(settings.probeInterval)
        nextProbeAt = now + interval
        guard let target = nextProbeTarget(), let member = members[target] else { return }
        let sequence = makeSequence()
        // Buddy system: tell a suspected member it is suspected, first thing in the packet.
        let reserved: [MembershipUpdate] = member.status == .suspect
            ? [.suspect(target, incarnation: member.incarnation, accuser: localID)] : []
        let updates = piggyback(fixedBodySize: 4 + 16, reserved: reserved)
        send(.ping(sequence: sequence, target: target, updates: updates), to: member.address)
        stats.probesSent &+= 1
        currentProbe = ProbeState(sequence: sequence, target: target, targetAddress: member.address,
                                  timeoutAt: now + health.scale(settings.probeTimeout), endAt: now + interval,
                                  sentAt: now)
    }

    /// Next member in randomized round-robin order, reshuffling after each full pass.
    mutating func nextProbeTarget() -> NodeID? {
        var examined = 0
        while examined <= probeOrder.count {
            if probeCursor >= probeOrder.count {
                probeOrder = members.peers
                probeOrder.shuffle(using: &random)
                probeCursor = 0
                if probeOrder.isEmpty { return nil }
            }
            let candidate = probeOrder[probeCursor]
            probeCursor += 1
            examined += 1
            if members.isPeer(candidate) { return candidate }
        }
        return nil
    }

    /// Puts a new member at a random position of the remaining probe order by swapping it with the
    /// member there, which moves to the end (memberlist does the same): O(1), where an insertion
    /// cost O(N) and made a cold start of N members O(N³).
    mutating func addToProbeOrder(_ id: NodeID) {
        let remaining = probeOrder.count - probeCursor
        probeOrder.append(id)
        guard remaining > 0 else { return }
        let position = probeCursor + Int(random.next() % UInt64(remaining + 1))
        probeOrder.swapAt(position, probeOrder.count - 1)
    }

    mutating func sendIndirectProbes(_ probe: inout ProbeState) {
        probe.indirectSent = true
        let helpers = members.randomPeers(settings.indirectChecks, excluding: probe.target, using: &random)
        probe.expectedNacks = helpers.count
        for helper in helpers {
            guard let address = members[helper]?.address else { continue }
            let fixed = 4 + 16 + MembershipEncoder.size(of: probe.targetAddress)
            let updates = piggyback(fixedBodySize: fixed)
            send(.pingRequest(sequence: probe.sequence, target: probe.target, targetAddress: probe.targetAddress,
                              updates: updates), to: address)
        }
    }

    mutating func finishFailedProbe(_ probe: ProbeState, now: Milliseconds) {
        // Lifeguard: missing nacks mean our own network (or we) are the problem.
        stats.probesFailed &+= 1
        let missedNacks = probe.expectedNacks - probe.nacks
        health.apply(probe.expectedNacks > 0 ? max(missedNacks, 0) : 1)
        guard let member = members[probe.target], member.status.isReachable else { return }
        applySuspect(probe.target, incarnation: member.incarnation, accuser: localID, now: now)
    }

    mutating func handlePing(sequence: UInt32, target: NodeID, replyTo address: NodeAddress?) {
        guard target == localID, let address else { return }
        let updates = piggyback(fixedBodySize: 4)
        send(.ack(sequence: sequence, updates: updates), to: address)
    }

    mutating func handleAck(sequence: UInt32, now: Milliseconds) {
        if let probe = currentProbe, probe.sequence == sequence {
            currentProbe = nil
            stats.probesAcknowledged &+= 1
            stats.probeRoundTrip.record(nanoseconds: (now - probe.sentAt) * 1_000_000)
            health.apply(-1)
            return
        }
        if let relayed = relayedProbes.removeValue(forKey: sequence) {
            let updates = piggyback(fixedBodySize: 4)
            send(.ack(sequence: relayed.originSequence, updates: updates), to: relayed.origin)
        }
    }

    mutating func handlePingRequest(sequence: UInt32, target: NodeID, targetAddress: NodeAddress,
                                    origin: NodeAddress?, now: Milliseconds) {
        guard let origin else { return }
        let ownSequence = makeSequence()
        // Answer with a nack at 80 % of the probe timeout if the target stays silent (memberlist).
        relayedProbes[ownSequence] = RelayedProbe(origin: origin, originSequence: sequence,
                                                  deadline: now + settings.probeTimeout * 4 / 5)
        let updates = piggyback(fixedBodySize: 4 + 16)
        send(.ping(sequence: ownSequence, target: target, updates: updates), to: targetAddress)
    }

    mutating func handleNack(sequence: UInt32) {
        if var probe = currentProbe, probe.sequence == sequence {
            probe.nacks += 1
            currentProbe = probe
        }
    }

    mutating func expireRelayedProbes(now: Milliseconds) {
        guard !relayedProbes.isEmpty else { return }
        for sequence in relayedProbes.filter({ $0.value.deadline <= now }).keys.sorted() {
            guard let relayed = relayedProbes.removeValue(forKey: sequence) else { continue }
            send(.nack(sequence: relayed.originSequence), to: relayed.origin)
        }
    }
}
