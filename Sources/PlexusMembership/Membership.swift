/// SWIM + Lifeguard membership and the service directory for one relay, as a pure state machine.
///
/// Feed it events with the current time (`start`, `tick`, `receive`, `leave`, `updateOwnRecord`)
/// and perform the `MembershipDirective`s it returns. It never reads a clock, never performs I/O
/// and draws randomness only from its seeded generator, so equal inputs give equal outputs.
///
/// Guarantees:
/// * a member is declared dead only after this node's own suspicion timeout (Lifeguard formula)
///   runs out without refutation: a death heard from others (gossip or push-pull) about a member
///   seen reachable here is only a suspicion (a confirmation when already suspected), so a relay
///   returning from a partition cannot kill members with its stale verdicts;
/// * while the node reports a live session with a member (`peerIsReachable`), a suspicion of it
///   never becomes a death, and the member is told directly so it refutes at once;
/// * an accusation against the local node is refuted at once, straight back to its sender, and a
///   member that sends us anything while suspected or declared dead here is told so at once;
/// * updates about a member are ordered by incarnation with precedence left > dead > suspect > alive
///   at equal incarnation; merges of push-pull state never revive a dead member with stale state
///   (remote "dead" about a member we see alive is only a suspicion);
/// * the local node refutes any accusation against its current or a higher incarnation;
/// * tombstones (dead/left members) are forgotten after `tombstoneLifetime`;
/// * seeds and recently dead members are retried with exponential backoff, so partitions heal.
public struct Membership: Sendable {
    public let settings: MembershipSettings
    public let localID: NodeID
    public private(set) var localAddress: NodeAddress
    public internal(set) var localIncarnation: UInt64
    public internal(set) var health: LocalHealth
    /// True once `leave` was called; the node then only gossips its departure.
    public internal(set) var hasLeft = false

    /// Known members other than self (tombstones included), and which of them are reachable.
    var members = MemberTable()
    /// Which member currently uses each seed address (seed addresses only: the rejoin loop needs
    /// nothing else, and a table for every member cost memory and a hash per update).
    var idsByAddress: [NodeAddress: NodeID] = [:]
    let seedAddresses: Set<NodeAddress>
    var probeOrder: [NodeID] = []
    var probeCursor = 0
    var currentProbe: ProbeState?
    var nextProbeAt: Milliseconds
    var nextGossipAt: Milliseconds
    var nextPushPullAt: Milliseconds
    var nextRejoinCheckAt: Milliseconds
    var suspicions: [NodeID: Suspicion] = [:]
    var relayedProbes: [UInt32: RelayedProbe] = [:]
    var nextSequence: UInt32 = 0
    var broadcasts: BroadcastQueue
    var directory = Directory()
    var ownRecord: DirectoryRecord
    var tombstones: [(id: NodeID, since: Milliseconds)] = []
    var tombstoneHead = 0
    var recentlyDead: [(id: NodeID, since: Milliseconds)] = []
    /// When the node last reported a live, authenticated session with each member (`peerIsReachable`).
    var reachabilityEvidence: [NodeID: Milliseconds] = [:]
    /// When each member was last told directly that it is suspected or dead (`promptRefutation`).
    var lastRefutationPrompt: [NodeID: Milliseconds] = [:]
    var rejoinTargets: [NodeAddress: RejoinTarget] = [:]
    var random: SeededGenerator
    var output: [MembershipDirective] = []
    var directoryDirty = false
    var stats = MembershipStatistics()
    /// Computes the own record's claims at each version (`OwnRecordChange.setClaimSigning`).
    var claimSigning: ClaimSigning?

    /// - Parameters:
    ///   - initialIncarnation: pass a value above any incarnation this node may have had before
    ///     (wall-clock seconds at start is the recommended choice), so a restart never loses an
    ///     incarnation race. The own record's version starts at `initialIncarnation << 16`.
    ///   - seeds: addresses to join and keep retrying until they are members.
    ///   - randomSeed: seeds the generator (probe order, gossip targets).
    public init(settings: MembershipSettings, localID: NodeID, localAddress: NodeAddress,
                initialIncarnation: UInt64, zone: Name = Name(bytes: []), seeds: [NodeAddress] = [],
                randomSeed: UInt64, now: Milliseconds) {
        self.settings = settings
        self.localID = localID
        self.localAddress = localAddress
        self.localIncarnation = initialIncarnation
        self.health = LocalHealth(maxMultiplier: settings.awarenessMaxMultiplier)
        self.random = SeededGenerator(seed: randomSeed)
        self.broadcasts = BroadcastQueue(oversizeThreshold: settings.packetBudget - MembershipEncoder.headerSize - 1)
        self.nextProbeAt = now
        self.nextGossipAt = now
        // Random stagger of the first push-pull (memberlist does the same), so members started
        // together do not all exchange full state at the same instant.
        self.nextPushPullAt = now + 1 + Milliseconds(random.next() % UInt64(max(settings.pushPullInterval, 1)))
        self.nextRejoinCheckAt = now
        self.ownRecord = DirectoryRecord(node: localID, version: initialIncarnation << 16,
                                         addresses: [localAddress], zone: zone)
        _ = directory.apply(ownRecord)
        seedAddresses = Set(seeds.filter { $0 != localAddress })
        for seed in seeds where seed != localAddress {
            rejoinTargets[seed] = RejoinTarget(nextAttemptAt: now, backoff: settings.rejoinInitialBackoff,
                                               isSeed: true, deadMember: nil, deadSince: now)
        }
    }

    // MARK: - Public events

    /// Starts the node: announces itself, contacts every seed at once, schedules the first tick.
    public mutating func start(now: Milliseconds) -> [MembershipDirective] {
        broadcasts.enqueue(.alive(localID, incarnation: localIncarnation, address: localAddress))
        broadcasts.enqueue(.record(ownRecord))
        let seeds = rejoinTargets.filter { $0.value.isSeed }
            .sorted { $0.key.host == $1.key.host ? $0.key.port < $1.key.port : $0.key.host < $1.key.host }
        for (address, target) in seeds {
            output.append(.attemptJoin(address))
            rejoinTargets[address]?.nextAttemptAt = now + target.backoff
            rejoinTargets[address]?.backoff = min(target.backoff * 2, settings.rejoinMaxBackoff)
        }
        return flush(now: now)
    }

    /// Runs every timer that is due at `now` (probes, suspicion timeouts, gossip, push-pull, rejoin).
    public mutating func tick(now: Milliseconds) -> [MembershipDirective] {
        if !hasLeft {
            runProbe(now: now)
            expireSuspicions(now: now)
            expireRelayedProbes(now: now)
            runPushPull(now: now)
            runRejoin(now: now)
            reapTombstones(now: now)
        }
        runGossip(now: now)
        return flush(now: now)
    }

    /// Handles one packet. `source` is the transport-level address it came from, if known; it is
    /// used only to answer a sender that is not yet a member.
    public mutating func receive(_ packet: MembershipPacket, from source: NodeAddress? = nil,
                                 now: Milliseconds) -> [MembershipDirective] {
        guard !hasLeft, packet.sender != localID else { return flush(now: now) }
        let incarnationBefore = localIncarnation
        handle(packet, source: source, now: now)
        if localIncarnation != incarnationBefore, let address = members[packet.sender]?.address ?? source {
            // The sender holds a stale accusation against us: answer it now rather than when a
            // gossip round happens to pick it (the refutation is queued for everyone else too).
            send(.gossip(updates: [.alive(localID, incarnation: localIncarnation, address: localAddress)]), to: address)
        }
        if let member = members[packet.sender], member.status == .suspect || member.status == .dead {
            // It is talking to us, so it is running (a relay resumed after SIGSTOP, or back from a
            // partition) but has not refuted yet: tell it what we believe, so it does now.
            promptRefutation(of: member, now: now)
        }
        return flush(now: now)
    }

    /// Leaves the overlay gracefully: announces departure at a higher incarnation and gossips it.
    /// Keep calling `tick` for a few gossip intervals so the news spreads.
    public mutating func leave(now: Milliseconds) -> [MembershipDirective] {
        guard !hasLeft else { return flush(now: now) }
        hasLeft = true
        localIncarnation += 1
        broadcasts.enqueue(.left(localID, incarnation: localIncarnation))
        currentProbe = nil
        nextGossipAt = now
        runGossip(now: now)
        return flush(now: now)
    }

    /// Changes the own directory record (register a cluster, subscribe a topic, …), bumps its
    /// version and disseminates it.
    public mutating func updateOwnRecord(_ changes: [OwnRecordChange], now: Milliseconds) -> [MembershipDirective] {
        var changed = false
        for change in changes {
            if case .setClaimSigning(let signing) = change {
                changed = changed || signing != claimSigning || !ownRecord.claims.isEmpty
                claimSigning = signing
                continue
            }
            changed = ownRecord.apply(change) || changed
        }
        if changed { publishOwnRecord() }
        return flush(now: now)
    }

    // MARK: - Queries

    /// The directory as an immutable snapshot (cached until the next change).
    public mutating func directorySnapshot() -> DirectorySnapshot {
        let members = self.members
        let localID = self.localID
        return directory.snapshot { id in id == localID || members[id]?.status.isReachable == true }
    }

    /// The push-pull request to send on a stream opened for `.attemptJoin`.
    public func joinRequest() -> MembershipPacket { pushPullPacket(isReply: false) }

    /// This node's own directory record.
    public var localRecord: DirectoryRecord { ownRecord }

    /// The version of `node`'s record held locally, if any.
    public func recordVersion(of node: NodeID) -> UInt64? { directory.version(of: node) }

    /// What this node knows about `id` (nil for self and for unknown or reaped members).
    public func member(_ id: NodeID) -> Member? { members[id] }

    /// All known members other than self, tombstones included.
    public var knownMembers: [Member] { Array(members.values) }

    /// Reachable members other than self.
    /// Probes, suspicions and refutations since start (see `MembershipStatistics`).
    public var statistics: MembershipStatistics { stats }

    public var reachablePeerCount: Int { members.peerCount }

    /// Updates waiting to be piggybacked (diagnostics).
    public var pendingBroadcastCount: Int { broadcasts.count }

    /// The updates waiting to be piggybacked, oldest first (diagnostics).
    public var pendingBroadcasts: [MembershipUpdate] { broadcasts.pending }

    // MARK: - Helpers shared by the extensions

    var clusterSize: Int { members.peerCount + 1 }

    var retransmitLimit: Int { settings.retransmitLimit(memberCount: clusterSize) }

    mutating func makeSequence() -> UInt32 {
        nextSequence &+= 1
        return nextSequence
    }

    func packet(_ message: MembershipMessage) -> MembershipPacket {
        MembershipPacket(sender: localID, message: message)
    }

    mutating func send(_ message: MembershipMessage, to address: NodeAddress, transport: MembershipTransport = .datagram) {
        output.append(.send(packet(message), to: address, transport: transport))
    }

    /// Piggyback as many queued updates as fit in a datagram next to `fixedBodySize` bytes of body.
    mutating func piggyback(fixedBodySize: Int, reserved: [MembershipUpdate] = []) -> [MembershipUpdate] {
        let used = MembershipEncoder.headerSize + fixedBodySize + 1
            + reserved.reduce(0) { $0 + MembershipEncoder.size(of: $1) }
        let budget = settings.packetBudget - used
        return reserved + broadcasts.select(budget: budget, maxCount: WireLimits.maxUpdatesPerMessage - reserved.count,
                                            limit: retransmitLimit)
    }

    mutating func publishOwnRecord() {
        ownRecord.version += 1
        ownRecord.claims = claimSigning?.sign(localID, ownRecord.version) ?? []
        _ = directory.apply(ownRecord)
        directoryDirty = true
        broadcasts.enqueue(.record(ownRecord))
    }

    /// Appends the pending directory notification and the next tick, and returns all directives.
    mutating func flush(now: Milliseconds) -> [MembershipDirective] {
        if directoryDirty {
            output.append(.directoryChanged)
            directoryDirty = false
        }
        output.append(.scheduleTick(at: max(now, nextDeadline(now: now))))
        // Hand the buffer over rather than `removeAll(keepingCapacity:)`, which would copy-allocate
        // a buffer of the same capacity and keep it (one burst of N change notices after a
        // full-state merge left every member holding N directives' worth of memory).
        let directives = output
        output = []
        return directives
    }

    /// The earliest time at which some timer is due.
    func nextDeadline(now: Milliseconds) -> Milliseconds {
        var deadline = Milliseconds.max
        if !broadcasts.isEmpty { deadline = max(nextGossipAt, now) }
        if hasLeft { return deadline == .max ? now + settings.gossipInterval : deadline }
        if let probe = currentProbe {
            deadline = min(deadline, probe.indirectSent ? probe.endAt : probe.timeoutAt)
        } else {
            deadline = min(deadline, nextProbeAt)
        }
        for suspicion in suspicions.values { deadline = min(deadline, suspicion.deadline) }
        for relayed in relayedProbes.values { deadline = min(deadline, relayed.deadline) }
        deadline = min(deadline, nextPushPullAt, nextRejoinCheckAt)
        return deadline
    }
}

/// The probe this node is currently running.
struct ProbeState: Sendable {
    let sequence: UInt32
    let target: NodeID
    let targetAddress: NodeAddress
    let timeoutAt: Milliseconds
    let endAt: Milliseconds
    /// When the ping was sent (for the round trip).
    let sentAt: Milliseconds
    var indirectSent = false
    var expectedNacks = 0
    var nacks = 0
}

/// A probe this node runs on behalf of another (ping-req).
struct RelayedProbe: Sendable {
    let origin: NodeAddress
    let originSequence: UInt32
    let deadline: Milliseconds
}

/// A seed or dead member the rejoin loop retries.
struct RejoinTarget: Sendable {
    var nextAttemptAt: Milliseconds
    var backoff: Milliseconds
    var isSeed: Bool
    var deadMember: NodeID?
    var deadSince: Milliseconds
}
