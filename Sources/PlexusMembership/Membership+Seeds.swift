extension Membership {
    /// Adds seed addresses after start (e.g. a `--join` name re-resolved to new addresses). Unknown
    /// ones are tried at the next rejoin check and then with backoff until they are members, like
    /// the seeds given to `init`; the local address and existing seeds are ignored.
    public mutating func addSeeds(_ addresses: [NodeAddress], now: Milliseconds) -> [MembershipDirective] {
        guard !hasLeft else { return flush(now: now) }
        for address in addresses where address != localAddress && rejoinTargets[address]?.isSeed != true {
            rejoinTargets[address] = RejoinTarget(nextAttemptAt: now, backoff: settings.rejoinInitialBackoff,
                                                  isSeed: true, deadMember: nil, deadSince: now)
        }
        return flush(now: now)
    }
}
