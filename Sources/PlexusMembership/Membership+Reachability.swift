// Evidence from outside the protocol that a member is alive: a live, authenticated session that
// the node reports. Hearsay (a suspicion or death gossiped by others) yields to it.

extension Membership {
    /// Reports that this node has a live, authenticated session with `id` right now (a frame
    /// arrived on it, or its handshake just completed). Treated like a direct ack:
    /// * for `settings.reachabilityEvidenceLifetime` after the report, a suspicion of `id` does
    ///   not turn into a death here (its timeout is re-armed instead);
    /// * if `id` is suspected or was declared dead here, `id` is told so directly (at most once
    ///   per `settings.refutationPromptInterval`), so that it refutes with a higher incarnation,
    ///   which revives it everywhere.
    ///
    /// Reports about self, unknown members and members that left are ignored. Call it whenever
    /// a frame arrives on a session (rate-limited by the caller to about once per probe interval
    /// per peer) and when a session's handshake completes.
    public mutating func peerIsReachable(_ id: NodeID, now: Milliseconds) -> [MembershipDirective] {
        guard !hasLeft, id != localID, let member = members[id], member.status != .left else { return flush(now: now) }
        reachabilityEvidence[id] = now
        if member.status != .alive { promptRefutation(of: member, now: now) }
        return flush(now: now)
    }

    /// Whether the node reported a live session with `id` less than the evidence lifetime ago.
    public func hasFreshEvidence(of id: NodeID, now: Milliseconds) -> Bool {
        guard let reported = reachabilityEvidence[id] else { return false }
        return now - reported < settings.reachabilityEvidenceLifetime
    }

    /// Tells `member` what this node believes about it (suspect or dead at its incarnation), so
    /// that it refutes now. Rate-limited per member.
    mutating func promptRefutation(of member: Member, now: Milliseconds) {
        if let last = lastRefutationPrompt[member.id], now - last < settings.refutationPromptInterval { return }
        lastRefutationPrompt[member.id] = now
        let accusation: MembershipUpdate = member.status == .dead
            ? .dead(member.id, incarnation: member.incarnation, accuser: localID)
            : .suspect(member.id, incarnation: member.incarnation, accuser: localID)
        send(.gossip(updates: [accusation]), to: member.address)
    }
}
