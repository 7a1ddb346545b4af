import DequeModule
import NIOCore
import PlexusMembership
@testable import PlexusRelayCore
import PlexusPeerWire
import PlexusWire

/// Several relay cores on virtual time, joined by in-memory relay-to-relay sessions: every
/// `.peer` output is queued and delivered, in order per relay pair, to the target core's
/// `receivePeer` by `deliver()`. The directory is built from `records` by `publishDirectory()`.
/// No sockets, no threads.
struct VirtualOverlay {
    var relays: [CoreHarness]
    var ids: [NodeID]
    var records: [NodeID: DirectoryRecord] = [:]
    /// Frames sent and not delivered yet, in send order.
    var inFlight = Deque<(from: Int, to: NodeID, frame: PeerFrame)>()
    /// Relays whose session is "down": frames to them vanish (the test reports the failure).
    var down: Set<NodeID> = []
    /// Every client-bound output so far, per relay.
    var outputs: [[CoreHarness.Output]]

    init(relays count: Int, zones: [String]? = nil, memberConcurrency: Int = 16, peerQueueLimitBytes: Int = 1 << 20,
         configure: (inout CoreConfiguration) -> Void = { _ in }) {
        ids = (0..<count).map { NodeID(high: 0, low: UInt64($0 + 1)) }
        relays = []
        outputs = Array(repeating: [], count: count)
        for index in 0..<count {
            let id = ids[index]
            let zone = PlexusMembership.Name(zones?[index] ?? "")
            relays.append(CoreHarness { configuration in
                var routing = OverlayRouterSettings(localNode: id, localZone: zone)
                routing.memberConcurrency = memberConcurrency
                routing.peerQueueLimitBytes = peerQueueLimitBytes
                routing.balancerSeed = UInt64(index + 1)
                configuration.overlay = routing
                configure(&configuration)
            })
            records[id] = DirectoryRecord(node: id, version: 1, addresses: [], zone: zone)
        }
    }

    func index(of node: NodeID) -> Int { ids.firstIndex(of: node)! }

    /// Announces every relay's local interest (as `RelayNode` does) and hands the resulting
    /// directory to every core.
    mutating func publishDirectory() {
        for index in relays.indices {
            let id = ids[index]
            var record = records[id]!
            for change in relays[index].core.routes.takeInterestChanges() {
                switch change {
                case .cluster(let name, let members):
                    record.clusters.removeAll { $0.cluster.bytes == name }
                    if members > 0 {
                        record.clusters.append(ClusterCapacity(cluster: PlexusMembership.Name(bytes: name),
                                                               capacity: UInt32(members * 16)))
                    }
                case .topic(let name, let subscribed):
                    record.topics.removeAll { $0.bytes == name }
                    if subscribed { record.topics.append(PlexusMembership.Name(bytes: name)) }
                }
            }
            record.version += 1
            records[id] = record
        }
        let snapshot = DirectorySnapshot(records: records)
        for index in relays.indices { relays[index].core.directoryChanged(snapshot) }
    }

    /// Connects a client to relay `relay` (optionally as a member of `cluster`).
    mutating func connect(_ relay: Int, _ cluster: String? = nil) -> ConnectionID {
        relays[relay].connect(cluster)
    }

    /// A client packet on relay `relay`; then every frame is delivered until nothing moves.
    @discardableResult
    mutating func receive(_ packet: ClientPacket, from id: ConnectionID, on relay: Int) -> [[CoreHarness.Output]] {
        var produced = Array(repeating: [CoreHarness.Output](), count: relays.count)
        produced[relay] += route(relays[relay].receive(packet, from: id), from: relay)
        return deliver(into: produced)
    }

    /// Advances every relay's clock and fires deadlines; then delivers.
    @discardableResult
    mutating func advance(milliseconds: Int64) -> [[CoreHarness.Output]] {
        var produced = Array(repeating: [CoreHarness.Output](), count: relays.count)
        for index in relays.indices {
            produced[index] += route(relays[index].advance(milliseconds: milliseconds), from: index)
        }
        return deliver(into: produced)
    }

    /// The session to `node` failed as seen by relay `relay`.
    @discardableResult
    mutating func peerFailed(_ node: NodeID, seenBy relay: Int) -> [[CoreHarness.Output]] {
        var produced = Array(repeating: [CoreHarness.Output](), count: relays.count)
        relays[relay].core.peerFailed(node, now: relays[relay].now)
        produced[relay] += route(relays[relay].collect(), from: relay)
        return deliver(into: produced)
    }

    /// Runs `body` on relay `relay`'s harness and delivers what it produced.
    @discardableResult
    mutating func on(_ relay: Int, _ body: (inout CoreHarness) -> [CoreHarness.Output]) -> [[CoreHarness.Output]] {
        var produced = Array(repeating: [CoreHarness.Output](), count: relays.count)
        produced[relay] += route(body(&relays[relay]), from: relay)
        return deliver(into: produced)
    }

    /// Queues the peer frames among `outputs` and returns the rest.
    private mutating func route(_ outputs: [CoreHarness.Output], from relay: Int) -> [CoreHarness.Output] {
        var rest: [CoreHarness.Output] = []
        for output in outputs {
            if case .peer(let node, let frame, _) = output {
                if !down.contains(node) { inFlight.append((relay, node, frame)) }
            } else {
                rest.append(output)
            }
        }
        return rest
    }

    /// Delivers frames (in order) until none is left; bounded.
    private mutating func deliver(into produced: [[CoreHarness.Output]]) -> [[CoreHarness.Output]] {
        var produced = produced
        var steps = 0
        while let next = inFlight.popFirst() {
            steps += 1
            precondition(steps < 10_000_000, "frames keep flowing")
            let target = index(of: next.to)
            relays[target].core.receivePeer(next.frame, from: ids[next.from], now: relays[target].now)
            produced[target] += route(relays[target].collect(), from: target)
        }
        for index in produced.indices { outputs[index] += produced[index] }
        return produced
    }
}

extension CoreHarness.Output {
    /// The client packet, if this output is one for `id`.
    func packet(for id: ConnectionID) -> RelayPacket? {
        if case .packet(let target, let packet) = self, target == id { return packet }
        return nil
    }
}
