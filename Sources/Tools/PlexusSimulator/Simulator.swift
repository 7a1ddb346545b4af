import PlexusMembership

/// Parameters of one simulated overlay.
public struct SimulationConfiguration: Sendable {
    public var memberCount: Int
    public var settings: MembershipSettings
    public var seed: UInt64
    /// Probability that one datagram is lost (every link).
    public var lossRate: Double
    /// One-way datagram delay, uniform in this range (milliseconds).
    public var minimumDelay: Milliseconds
    public var maximumDelay: Milliseconds
    /// Extra delay of the stream path (connection set-up), added to the datagram delay.
    public var streamExtraDelay: Milliseconds
    /// Members start one after another, this far apart, each joining through the first three.
    public var joinSpacing: Milliseconds
    /// Encode and decode every packet with the real codec (slower; used by tests).
    public var roundTripThroughCodec: Bool
    /// Start every member at time 0 already holding the converged state (every member alive at
    /// incarnation 1, every record), as after a completed join, instead of joining one by one
    /// through seeds. No seeds are configured. Used for steady-state figures at thousands of
    /// members, where the join storm (every member's alive and record gossiped to all) would
    /// dominate the run.
    public var startConverged: Bool

    public init(memberCount: Int, settings: MembershipSettings = .lan, seed: UInt64 = 1, lossRate: Double = 0,
                minimumDelay: Milliseconds = 1, maximumDelay: Milliseconds = 10, streamExtraDelay: Milliseconds = 5,
                joinSpacing: Milliseconds = 10, roundTripThroughCodec: Bool = false, startConverged: Bool = false) {
        self.memberCount = memberCount
        self.settings = settings
        self.seed = seed
        self.lossRate = lossRate
        self.minimumDelay = minimumDelay
        self.maximumDelay = maximumDelay
        self.streamExtraDelay = streamExtraDelay
        self.joinSpacing = joinSpacing
        self.roundTripThroughCodec = roundTripThroughCodec
        self.startConverged = startConverged
    }
}

/// Something that happened in the simulation, reported to `Simulator.observer`.
public enum SimulationEvent {
    /// `observer`'s view of a member changed.
    case memberChanged(observer: Int, change: MemberChange)
    /// `observer`'s directory changed.
    case directoryChanged(observer: Int)
}

/// A deterministic discrete-event simulation of many `Membership` instances on a virtual network
/// with loss, delay and partitions.
///
/// Guarantees: the same configuration and the same calls give the same run; virtual time only
/// advances through the event heap (no real clock); packets to killed members or across a
/// partition are dropped.
public final class Simulator {
    public let configuration: SimulationConfiguration
    public private(set) var now: Milliseconds = 0
    public private(set) var nodes: [Membership?]
    public let ids: [NodeID]
    public let addresses: [NodeAddress]
    /// Partition group of each member (equal groups can talk); nil when there is no partition.
    public private(set) var partitionGroups: [Int]?
    public var observer: ((Simulator, SimulationEvent) -> Void)?
    /// Sees every packet delivered (member index, packet), for debugging and tests.
    public var deliveryObserver: ((Int, MembershipPacket) -> Void)?

    public private(set) var datagramBytes = 0
    public private(set) var streamBytes = 0
    public private(set) var datagramsSent = 0
    public private(set) var streamMessagesSent = 0
    public private(set) var deliveries = 0
    public private(set) var oversizedDatagrams = 0

    private enum Payload {
        case tick(Int)
        case start(Int)
        case deliver(Int, MembershipPacket, from: Int)
    }

    private var heap = EventHeap<Payload>()
    private var pendingTick: [Milliseconds]
    private var random: SeededGenerator
    private var indexByAddress: [NodeAddress: Int] = [:]
    private var incarnationClock: UInt64 = 1_000

    public init(_ configuration: SimulationConfiguration) {
        self.configuration = configuration
        random = SeededGenerator(seed: configuration.seed ^ 0x5EED)
        var ids: [NodeID] = []
        var addresses: [NodeAddress] = []
        for index in 0..<configuration.memberCount {
            ids.append(NodeID(high: UInt64(index) &* 0x9E37_79B9_7F4A_7C15 | 1, low: UInt64(index)))
            let address = NodeAddress(host: "10.\(index / 65_536).\(index / 256 % 256).\(index % 256)", port: 7946)
            addresses.append(address)
            indexByAddress[address] = index
        }
        self.ids = ids
        self.addresses = addresses
        nodes = Array(repeating: nil, count: configuration.memberCount)
        pendingTick = Array(repeating: .max, count: configuration.memberCount)
        if configuration.startConverged {
            startConverged()
        } else {
            for index in 0..<configuration.memberCount {
                heap.push(.start(index), at: Milliseconds(index) * configuration.joinSpacing)
            }
        }
    }

    // MARK: - Control

    /// Runs events until virtual time `time` (inclusive).
    public func run(until time: Milliseconds) {
        while let next = heap.nextTime, next <= time {
            let entry = heap.pop()!
            now = entry.time
            switch entry.payload {
            case .start(let index):
                startNode(index, incarnation: 1)
            case .tick(let index):
                guard pendingTick[index] == entry.time, nodes[index] != nil else { continue }
                pendingTick[index] = .max
                let directives = nodes[index]!.tick(now: now)
                perform(directives, from: index)
            case .deliver(let index, let packet, let source):
                guard nodes[index] != nil else { continue }
                deliveries += 1
                deliveryObserver?(index, packet)
                let directives = nodes[index]!.receive(packet, from: addresses[source], now: now)
                perform(directives, from: index)
            }
        }
        now = max(now, time)
    }

    /// Runs for `duration` more milliseconds.
    public func run(for duration: Milliseconds) { run(until: now + duration) }

    public func isRunning(_ index: Int) -> Bool { nodes[index] != nil }

    /// Stops member `index` abruptly (no leave).
    public func kill(_ index: Int) {
        nodes[index] = nil
        pendingTick[index] = .max
    }

    /// Restarts a killed member with a fresh state machine and an incarnation above any earlier one.
    public func restart(_ index: Int) {
        incarnationClock += 1_000
        startNode(index, incarnation: incarnationClock)
    }

    /// Makes member `index` leave gracefully.
    public func leave(_ index: Int) {
        guard nodes[index] != nil else { return }
        perform(nodes[index]!.leave(now: now), from: index)
    }

    /// Changes member `index`'s own directory record; returns the new version.
    @discardableResult
    public func updateRecord(_ index: Int, _ changes: [OwnRecordChange]) -> UInt64 {
        guard nodes[index] != nil else { return 0 }
        perform(nodes[index]!.updateOwnRecord(changes, now: now), from: index)
        return nodes[index]!.localRecord.version
    }

    /// Splits the network: members with equal group numbers can talk.
    public func partition(_ groups: [Int]) { partitionGroups = groups }

    public func heal() { partitionGroups = nil }

    /// Read access to member `index`'s state machine.
    public func membership(_ index: Int) -> Membership? { nodes[index] }

    /// The version of `id`'s record held by member `index` (nil if not running or none held);
    /// reads in place, without copying the state machine.
    public func recordVersion(at index: Int, of id: NodeID) -> UInt64? { nodes[index]?.recordVersion(of: id) }

    /// Mutating access (for queries that cache, like `directorySnapshot`).
    public func withMembership<Result>(_ index: Int, _ body: (inout Membership) -> Result) -> Result? {
        guard nodes[index] != nil else { return nil }
        return body(&nodes[index]!)
    }

    public func index(of id: NodeID) -> Int? {
        let index = Int(id.low)
        return index < ids.count && ids[index] == id ? index : nil
    }

    // MARK: - Internals

    private func makeMembership(_ index: Int, incarnation: UInt64, seeds: [NodeAddress]) -> Membership {
        Membership(settings: configuration.settings, localID: ids[index], localAddress: addresses[index],
                   initialIncarnation: incarnation, zone: Name("zone-\(index % 3)"),
                   seeds: seeds, randomSeed: configuration.seed &* 1_000_003 &+ UInt64(index), now: now)
    }

    private func startNode(_ index: Int, incarnation: UInt64) {
        let seeds = (0..<min(3, configuration.memberCount)).filter { $0 != index }.map { addresses[$0] }
        var membership = makeMembership(index, incarnation: incarnation, seeds: seeds)
        let directives = membership.start(now: now)
        nodes[index] = membership
        perform(directives, from: index)
    }

    /// Gives every member the full state in one push-pull reply (from member 0, or 1 for member 0),
    /// then starts it. Everyone already knows everyone, so the start announcements are duplicates
    /// that nobody re-gossips.
    private func startConverged() {
        let count = configuration.memberCount
        var states: [MemberState] = []
        var records: [DirectoryRecord] = []
        states.reserveCapacity(count)
        records.reserveCapacity(count)
        for index in 0..<count {
            let membership = makeMembership(index, incarnation: 1, seeds: [])
            states.append(MemberState(id: ids[index], address: addresses[index], incarnation: 1, status: .alive))
            records.append(membership.localRecord)
        }
        let order = (0..<count).sorted { ids[$0] < ids[$1] }
        let fullState = MembershipMessage.pushPull(isReply: true, members: order.map { states[$0] },
                                                   records: order.map { records[$0] })
        for index in 0..<count {
            var membership = makeMembership(index, incarnation: 1, seeds: [])
            let sender = ids[index == 0 ? min(1, count - 1) : 0]
            if sender != ids[index] {
                // Only scheduling and change notices come back from a reply; none need performing
                // before the start below (which schedules the first tick).
                _ = membership.receive(MembershipPacket(sender: sender, message: fullState), now: now)
            }
            let directives = membership.start(now: now)
            nodes[index] = membership
            perform(directives, from: index)
        }
    }

    private func perform(_ directives: [MembershipDirective], from index: Int) {
        for directive in directives {
            switch directive {
            case .send(let packet, let address, let transport):
                transmit(packet, from: index, to: address, transport: transport)
            case .attemptJoin(let address):
                // A connection attempt to a dead or unreachable host fails before any byte is sent.
                guard let target = indexByAddress[address], nodes[target] != nil, canReach(index, target),
                      let packet = nodes[index]?.joinRequest() else { continue }
                transmit(packet, from: index, to: address, transport: .stream)
            case .memberChanged(let change):
                observer?(self, .memberChanged(observer: index, change: change))
            case .directoryChanged:
                observer?(self, .directoryChanged(observer: index))
            case .scheduleTick(let time):
                if time < pendingTick[index] || pendingTick[index] < now {
                    pendingTick[index] = time
                    heap.push(.tick(index), at: time)
                }
            }
        }
    }

    private func canReach(_ from: Int, _ to: Int) -> Bool {
        guard let groups = partitionGroups else { return true }
        return groups[from] == groups[to]
    }

    private func transmit(_ packet: MembershipPacket, from index: Int, to address: NodeAddress, transport: MembershipTransport) {
        let size = MembershipEncoder.encodedSize(of: packet)
        switch transport {
        case .datagram:
            datagramBytes += size
            datagramsSent += 1
            if size > configuration.settings.packetBudget { oversizedDatagrams += 1 }
        case .stream:
            streamBytes += size
            streamMessagesSent += 1
        }
        guard let target = indexByAddress[address], canReach(index, target) else { return }
        if transport == .datagram && configuration.lossRate > 0 && random.nextUnit() < configuration.lossRate { return }
        var delivered = packet
        if configuration.roundTripThroughCodec {
            let bytes = MembershipEncoder.encode(packet)
            precondition(bytes.count == size, "encodedSize disagrees with encode")
            // Cannot throw unless the codec is broken: the bytes come from our own encoder, and a
            // failure here must stop the experiment rather than be mistaken for packet loss.
            delivered = try! MembershipDecoder.decode(bytes)
        }
        let spread = UInt64(configuration.maximumDelay - configuration.minimumDelay + 1)
        var delay = configuration.minimumDelay + Milliseconds(random.next() % spread)
        if transport == .stream { delay += configuration.streamExtraDelay }
        heap.push(.deliver(target, delivered, from: index), at: now + delay)
    }
}
