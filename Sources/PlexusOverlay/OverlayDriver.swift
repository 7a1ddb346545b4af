import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PlexusCrypto
import PlexusMembership
import PlexusNoise
import PlexusSession

/// The loop-bound half of `Overlay`: owns the `Membership`, the sockets, the timer and the
/// counters, and performs directives. Every method runs on `eventLoop`.
final class OverlayDriver {
    let configuration: OverlayConfiguration
    let eventLoop: EventLoop
    let logger: Logger
    let seal: GossipSeal
    var replay: ReplayWindow
    var membership: Membership?
    var counters = OverlayCounters()
    var udp: Channel?
    var tcp: Channel?
    var tick: Scheduled<Void>?
    var closed = false
    var advertisedAddress = NodeAddress(host: "", port: 0)
    var discoveryChannel: Channel?
    var discovery: DiscoveryConfiguration?
    var beaconTask: RepeatedTask?
    var beaconReplay = ReplayWindow()
    var beaconJoins: [NodeAddress: Milliseconds] = [:]
    /// Accepted peer sessions currently open; above `maximumInboundStreams` new ones are closed at once.
    var inboundStreams = 0
    var seedRefresh: RepeatedTask?
    static let maximumInboundStreams = 256
    /// Hosts of known members (any status), rebuilt when a member changes; read by the peer
    /// port's admission (on the loop that accepts, which may be another) to grant the reserve.
    let knownHosts: NIOLockedValueBox<Set<String>>
    /// Rate limit of the socket-recovery log line.
    var socketLogLimiter = LogRateLimiter()
    private var resolved: [NodeAddress: SocketAddress] = [:]
    private let snapshot: NIOLockedValueBox<DirectorySnapshot>
    private let sessionLogger: Logger

    init(configuration: OverlayConfiguration, eventLoop: EventLoop, snapshot: NIOLockedValueBox<DirectorySnapshot>,
         knownHosts: NIOLockedValueBox<Set<String>>) {
        self.knownHosts = knownHosts
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.logger = configuration.logger
        self.seal = GossipSeal(keyring: configuration.keyring)
        self.replay = ReplayWindow(window: configuration.replayWindowMilliseconds)
        self.snapshot = snapshot
        var sessionLogger = configuration.logger
        // Failed sessions (e.g. a relay with another network key) are counted; keep them out of info logs.
        sessionLogger.logLevel = max(configuration.logger.logLevel, .error)
        self.sessionLogger = sessionLogger
    }

    private func refreshKnownHosts() {
        guard let membership else { return }
        let hosts = Set(membership.knownMembers.map(\.address.host))
        knownHosts.withLockedValue { $0 = hosts }
    }

    func count(_ event: AdmissionEvent) {
        switch event {
        case .refused(.perSourceLimit): counters.connectionsRefusedPerSource += 1
        case .refused(.totalLimit): counters.connectionsRefusedTotal += 1
        case .refused(.authenticatedLimit): counters.streamsRefused += 1
        case .handshakeTimedOut: counters.handshakesTimedOut += 1
        case .acceptBackedOff: counters.acceptBackoffs += 1
        }
    }

    func count(_ error: PeerPortPrefaceError) {
        switch error.code {
        case .unknownPreface, .unservedPreface: counters.prefacesRefused += 1
        case .timedOut:
            // It did not complete its handshake in time either (it never began it).
            counters.prefacesTimedOut += 1
            counters.handshakesTimedOut += 1
        }
    }

    func attach(udp: Channel, tcp: Channel) {
        self.udp = udp
        self.tcp = tcp
    }

    var localID: NodeID {
        NodeID(bytes: configuration.identity.nodeID.bytes)!
    }

    func start(advertisedAddress: NodeAddress) -> NodeID {
        self.advertisedAddress = advertisedAddress
        let now = monotonicMilliseconds()
        var membership = Membership(
            settings: configuration.settings, localID: localID, localAddress: advertisedAddress,
            initialIncarnation: UInt64(max(1, wallClockMilliseconds() / 1000)), zone: Name(configuration.zone),
            seeds: configuration.seeds.filter { $0 != advertisedAddress },
            randomSeed: UInt64.random(in: .min ... .max), now: now)
        let directives = membership.start(now: now)
        self.membership = membership
        refreshKnownHosts()
        perform(directives)
        publishSnapshot()
        if !configuration.joinNames.isEmpty {
            let bound = NIOLoopBound(self, eventLoop: eventLoop)
            let names = configuration.joinNames
            let loop = eventLoop
            let interval = TimeAmount.milliseconds(configuration.seedRefreshMilliseconds)
            seedRefresh = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                Task.detached {
                    var addresses: [NodeAddress] = []
                    for name in names { addresses += (try? SeedResolver.resolve(name)) ?? [] }
                    let found = addresses
                    loop.execute { bound.value.addSeeds(found) }
                }
            }
        }
        return localID
    }

    func sessionConfiguration(role: NoiseRole) -> SessionConfiguration {
        SessionConfiguration(role: role, identity: configuration.identity, keyring: configuration.keyring,
                             advertisedAddresses: [advertisedAddress.description], handshakeTimeout: .seconds(5),
                             maximumFrameSize: 16 * 1024 * 1024, logger: sessionLogger)
    }

    // MARK: - Events

    func onTick() {
        tick = nil
        guard !closed, membership != nil else { return }
        perform(membership!.tick(now: monotonicMilliseconds()))
    }

    /// `deliveredTo`: the datagram's destination IP (packet info), if the socket reports it.
    func receiveDatagram(_ bytes: [UInt8], from source: SocketAddress, deliveredTo: SocketAddress? = nil) {
        guard !closed, membership != nil else { return }
        let payload: [UInt8]
        do {
            payload = try seal.open(bytes, at: ownDestinations(deliveredTo: deliveredTo), now: wallClockMilliseconds(),
                                    window: &replay)
        } catch {
            switch error {
            case .malformed: counters.droppedMalformed += 1
            case .authentication: counters.droppedAuthentication += 1
            case .stale: counters.droppedStale += 1
            case .replayed: counters.droppedReplayed += 1
            }
            return
        }
        counters.datagramsReceived += 1
        deliver(payload, source: source.ipAddress.flatMap { ip in source.port.map { NodeAddress(host: ip, port: UInt16($0)) } })
    }

    func receiveStreamFrame(_ bytes: [UInt8], peerAddresses: [String]) {
        guard !closed, membership != nil else { return }
        counters.streamFramesReceived += 1
        deliver(bytes, source: peerAddresses.first.flatMap(parseAddress))
    }

    private func deliver(_ payload: [UInt8], source: NodeAddress?) {
        let packet: MembershipPacket
        do {
            packet = try MembershipDecoder.decode(payload)
        } catch {
            counters.droppedUndecodable += 1
            return
        }
        perform(membership!.receive(packet, from: source, now: monotonicMilliseconds()))
    }

    func updateOwnRecord(_ changes: [OwnRecordChange]) {
        // After leave the record is frozen (others refuse a left relay's records anyway).
        guard !closed, membership != nil, !membership!.hasLeft else { return }
        perform(membership!.updateOwnRecord(changes, now: monotonicMilliseconds()))
    }

    func peerIsReachable(_ node: PlexusMembership.NodeID) {
        guard !closed, membership != nil else { return }
        perform(membership!.peerIsReachable(node, now: monotonicMilliseconds()))
    }

    func addSeeds(_ addresses: [NodeAddress]) {
        guard !closed, membership != nil, !addresses.isEmpty else { return }
        perform(membership!.addSeeds(addresses, now: monotonicMilliseconds()))
    }

    func leave() {
        guard !closed, membership != nil else { return }
        logger.info("leaving the overlay")
        perform(membership!.leave(now: monotonicMilliseconds()))
    }

    func close() -> EventLoopFuture<Void> {
        closed = true
        tick?.cancel()
        tick = nil
        beaconTask?.cancel()
        beaconTask = nil
        seedRefresh?.cancel()
        seedRefresh = nil
        let channels = [udp, tcp, discoveryChannel].compactMap { $0 }
        // The TCP listener may run on another loop (the relay's, which receives the sessions).
        let futures = channels.map { $0.close().hop(to: eventLoop).recover { _ in } }
        return EventLoopFuture.andAllComplete(futures, on: eventLoop)
    }

    // MARK: - Directives

    func perform(_ directives: [MembershipDirective]) {
        var membersChanged = false
        defer { if membersChanged { refreshKnownHosts() } }
        for directive in directives {
            switch directive {
            case .send(let packet, let address, let transport):
                let bytes = MembershipEncoder.encode(packet)
                if transport == .datagram && bytes.count <= configuration.settings.packetBudget {
                    sendDatagram(bytes, to: address)
                } else {
                    if transport == .datagram { counters.datagramsRoutedToStream += 1 }
                    openStream(to: address, join: false, payload: bytes)
                }
            case .attemptJoin(let address):
                counters.joinAttempts += 1
                openStream(to: address, join: true, payload: [])
            case .memberChanged(let change):
                membersChanged = true
                let member = change.member
                logger.info("member \(member.status)", metadata: [
                    "node": "\(hex(member.id))", "address": "\(member.address)",
                    "incarnation": "\(member.incarnation)",
                    "previous": "\(change.previousStatus.map { "\($0)" } ?? "unknown")",
                ])
                if !member.status.isReachable, change.previousStatus?.isReachable != false {
                    configuration.observer?(.relayGone(member.id))
                }
            case .directoryChanged:
                publishSnapshot()
            case .scheduleTick(let deadline):
                scheduleTick(at: deadline)
            }
        }
    }

    private func publishSnapshot() {
        guard membership != nil else { return }
        let fresh = membership!.directorySnapshot()
        snapshot.withLockedValue { $0 = fresh }
        configuration.observer?(.directoryChanged(fresh))
    }

    private func scheduleTick(at deadline: Milliseconds) {
        guard !closed else { return }
        tick?.cancel()
        let delay = max(0, deadline - monotonicMilliseconds())
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        tick = eventLoop.scheduleTask(in: .milliseconds(delay)) { bound.value.onTick() }
    }

    private func socketAddress(_ address: NodeAddress) -> SocketAddress? {
        if let known = resolved[address] { return known }
        guard let socket = try? SocketAddress.makeAddressResolvingHost(address.host, port: Int(address.port)) else { return nil }
        if resolved.count > 4096 { resolved.removeAll() }
        resolved[address] = socket
        return socket
    }

    private func sendDatagram(_ payload: [UInt8], to address: NodeAddress) {
        guard let udp, let remote = socketAddress(address) else {
            counters.datagramSendFailures += 1
            return
        }
        guard let destination = GossipDestination(remote) else {
            counters.datagramSendFailures += 1
            return
        }
        let sealed = seal.seal(payload, to: destination, timestamp: wallClockMilliseconds())
        counters.datagramsSent += 1
        counters.datagramBytesSent += sealed.count
        counters.largestDatagramSent = max(counters.largestDatagramSent, sealed.count)
        let envelope = AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: sealed))
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        udp.writeAndFlush(envelope).whenFailure { _ in bound.value.counters.datagramSendFailures += 1 }
    }

    /// Where datagrams to this relay may have been sealed for: the IP they were delivered to (with
    /// the peer port) and the advertised address (differs behind a port-forwarding NAT).
    private func ownDestinations(deliveredTo: SocketAddress?) -> [GossipDestination] {
        var destinations: [GossipDestination] = []
        if let deliveredTo, let delivered = GossipDestination(deliveredTo, port: advertisedAddress.port) {
            destinations.append(delivered)
        }
        if let advertised = socketAddress(advertisedAddress).flatMap({ GossipDestination($0) }),
           !destinations.contains(advertised) {
            destinations.append(advertised)
        }
        return destinations
    }

    /// Opens a Noise session to `address` and sends one packet: `payload`, or for a join the
    /// push-pull request built once the session is established. Every failure is counted.
    func openStream(to address: NodeAddress, join: Bool, payload: [UInt8]) {
        guard !closed, let remote = socketAddress(address) else {
            if join { counters.joinFailures += 1 } else { counters.streamSendFailures += 1 }
            return
        }
        counters.streamsOpened += 1
        let configuration = sessionConfiguration(role: .initiator)
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(3))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    // The peer port serves messaging sessions too: say this is a membership stream.
                    try sync.addHandler(PeerPortPrefaceWriter(.membershipStream))
                    try sync.addHandler(NoiseSessionHandler(configuration: configuration))
                    try sync.addHandler(StreamSender(driver: loopBound.value, join: join, payload: payload))
                }
            }
            .connect(to: remote)
            .whenFailure { _ in loopBound.value.streamFailed(join: join) }
    }

    func streamFailed(join: Bool) {
        if join { counters.joinFailures += 1 } else { counters.streamSendFailures += 1 }
    }

    func joinPayload() -> [UInt8] {
        guard let membership, !membership.hasLeft, !closed else { return [] }
        return MembershipEncoder.encode(membership.joinRequest())
    }

    // MARK: - Status

    func status() -> OverlayStatus {
        guard var membership else { return OverlayStatus(node: "", address: "", members: [], counters: counters) }
        let snapshot = membership.directorySnapshot()
        self.membership = membership
        func info(id: NodeID, state: String, address: NodeAddress, incarnation: UInt64, isSelf: Bool) -> MemberInfo {
            let record = snapshot.record(of: id)
            return MemberInfo(
                node: hex(id), state: state, address: address.description, incarnation: incarnation,
                zone: record.map { $0.zone.description } ?? "", isSelf: isSelf,
                addresses: record.map { $0.addresses.map(\.description) } ?? [],
                clusters: record.map { $0.clusters.map { ClusterInfo(name: $0.cluster.description, capacity: $0.capacity) } } ?? [],
                topics: record.map { $0.topics.map(\.description) } ?? [])
        }
        var members = [info(id: membership.localID, state: membership.hasLeft ? "left" : "alive",
                            address: membership.localAddress, incarnation: membership.localIncarnation, isSelf: true)]
        for member in membership.knownMembers.sorted(by: { $0.id < $1.id }) {
            members.append(info(id: member.id, state: "\(member.status)", address: member.address,
                                incarnation: member.incarnation, isSelf: false))
        }
        return OverlayStatus(node: hex(membership.localID), address: membership.localAddress.description,
                             members: members, counters: counters, failureDetector: membership.statistics)
    }
}

func parseAddress(_ text: String) -> NodeAddress? {
    guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
    var host = String(text[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return NodeAddress(host: host, port: port)
}

/// What `plexus status` shows.
public struct OverlayStatus: Sendable, Codable, Equatable {
    public var node: String
    public var address: String
    /// Self first, then every known member (tombstones included) by node ID.
    public var members: [MemberInfo]
    public var counters: OverlayCounters
    /// Probes, their round trips, suspicions and refutations (absent before the overlay started).
    public var failureDetector: MembershipStatistics?
    /// What the local relay core reports (absent when the overlay runs without a relay).
    public var relay: RelayReport?
}

/// The relay core's figures in `plexus status`: connections, pending work, queues, and every
/// drop by cluster or topic (nothing is dropped without being counted here).
public struct RelayReport: Sendable, Codable, Equatable {
    public var connections: Int
    public var pendingRequests: Int
    public var forwardedRequests: Int
    public var tunnels: Int
    public var queuedBytes: Int
    public var peerQueuedBytes: Int
    public var peerSessions: Int
    public var peerFramesSent: Int
    public var peerFramesReceived: Int
    public var peerSessionFailures: Int
    /// Broadcasts dropped at a full member queue or a full relay queue, by cluster.
    public var droppedBroadcasts: [String: Int]
    /// Events dropped at a full subscriber queue or a full relay queue, by topic.
    public var droppedEvents: [String: Int]
    /// Requests answered "service overloaded", by cluster.
    public var overloadedRequests: [String: Int]
    /// Events and broadcasts that could not be delivered, by reason (`slow-consumer`,
    /// `relay-queue-full`, `relay-unreachable`); absent in reports of older relays.
    public var lostEvents: [String: Int]?
    public var lostBroadcasts: [String: Int]?

    public init(connections: Int, pendingRequests: Int, forwardedRequests: Int, tunnels: Int, queuedBytes: Int,
                peerQueuedBytes: Int, peerSessions: Int, peerFramesSent: Int, peerFramesReceived: Int,
                peerSessionFailures: Int, droppedBroadcasts: [String: Int], droppedEvents: [String: Int],
                overloadedRequests: [String: Int]) {
        self.connections = connections
        self.pendingRequests = pendingRequests
        self.forwardedRequests = forwardedRequests
        self.tunnels = tunnels
        self.queuedBytes = queuedBytes
        self.peerQueuedBytes = peerQueuedBytes
        self.peerSessions = peerSessions
        self.peerFramesSent = peerFramesSent
        self.peerFramesReceived = peerFramesReceived
        self.peerSessionFailures = peerSessionFailures
        self.droppedBroadcasts = droppedBroadcasts
        self.droppedEvents = droppedEvents
        self.overloadedRequests = overloadedRequests
    }
}

public struct MemberInfo: Sendable, Codable, Equatable {
    public var node: String
    public var state: String
    public var address: String
    public var incarnation: UInt64
    public var zone: String
    public var isSelf: Bool
    public var addresses: [String]
    public var clusters: [ClusterInfo]
    public var topics: [String]
}

public struct ClusterInfo: Sendable, Codable, Equatable {
    public var name: String
    public var capacity: UInt32

    public init(name: String, capacity: UInt32) {
        self.name = name
        self.capacity = capacity
    }
}
