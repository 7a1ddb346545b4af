import Foundation
import NIOConcurrencyHelpers
import PlexusHTTP
import PlexusNode
import PlexusOverlay
import PlexusRelay
import PlexusRelayCore

/// The relay's lifecycle as the HTTP endpoint reports it: serving, draining, and whether it has
/// joined the overlay (latched: a relay that once saw another member stays "joined").
final class RelayLifecycleState: Sendable {
    private struct State {
        var serving = false
        var draining = false
        var joined = false
    }
    private let state = NIOLockedValueBox(State())
    let development: Bool
    /// Whether the relay has anything to join (`--join` or `--discover`); a lone first relay does not.
    let expectsPeers: Bool
    let started = Date()

    init(development: Bool, expectsPeers: Bool) {
        self.development = development
        self.expectsPeers = expectsPeers
    }

    func setServing(_ serving: Bool) { state.withLockedValue { $0.serving = serving } }
    func setDraining() { state.withLockedValue { $0.draining = true } }
    var isDraining: Bool { state.withLockedValue { $0.draining } }

    /// The health with `aliveOthers` other alive members seen now.
    func health(aliveOthers: Int?) -> HealthState {
        state.withLockedValue { state in
            if (aliveOthers ?? 0) > 0 { state.joined = true }
            return HealthState.evaluate(serving: state.serving, draining: state.draining, development: development,
                                        expectsPeers: expectsPeers, joined: state.joined)
        }
    }
}

extension StatusSource {
    /// Everything the endpoint serves, read from `node` at request time through its public API.
    static func relay(_ node: RelayNode, lifecycle: RelayLifecycleState, version: String) -> StatusSource {
        @Sendable func aliveOthers(_ status: OverlayStatus?) -> Int? {
            status.map { $0.members.filter { !$0.isSelf && $0.state == "alive" }.count }
        }
        return StatusSource(
            health: {
                let status = try? await node.overlay.status()
                return lifecycle.health(aliveOthers: aliveOthers(status))
            },
            status: {
                var status = try await node.overlay.status()
                let statistics = try await node.relay.statistics()
                status.relay = RelayReport(statistics)
                let health = lifecycle.health(aliveOthers: aliveOthers(status))
                var document = RelayStatusDocument(
                    status, version: version, ready: health.ready, draining: lifecycle.isDraining,
                    reason: health.reason, uptimeSeconds: Date().timeIntervalSince(lifecycle.started))
                document.peers = try await node.relay.peerLinksReport()
                document.protection = ProtectionReport(try await node.relay.protectionStatus())
                document.federation = await FederationReport.current(node: node)
                return JSONDocument(bytes: try JSON.encode(document))
            },
            members: {
                let status = try await node.overlay.status()
                return JSONDocument(bytes: try JSON.encode(MembersDocument(node: status.node, members: status.members)))
            },
            connections: {
                let s = try await node.relay.statistics()
                let summary = ConnectionsDocument.Summary(
                    connections: s.connections, handshaking: s.handshakingConnections, clusters: s.clusters, topics: s.topics,
                    pendingRequests: s.pendingRequests, tunnels: s.tunnels, queuedBytes: s.queuedBytes,
                    peakConnectionQueuedBytes: s.peakConnectionQueuedBytes)
                let list = try await node.relay.connections()
                let document = ConnectionsDocument(summary: summary, connections: list.connections, truncated: list.truncated)
                return JSONDocument(bytes: try JSON.encode(document))
            },
            metrics: {
                let statistics = try await node.relay.statistics()
                let status = try await node.overlay.status()
                var sample = RelayMetricsSample(statistics, status)
                sample.peers = PeerMetricsSample(try await node.relay.peerLinksReport(), status.counters)
                sample.protection = ProtectionMetricsSample(try await node.relay.protectionStatus())
                sample.federation = await FederationReport.metrics()
                sample.process = ProcessMetrics.sample()
                return sample
            })
    }
}

extension RelayMetricsSample {
    /// The figures the relay exposes today: `RelayStatistics` and `OverlayStatus`.
    init(_ s: RelayStatistics, _ overlay: OverlayStatus) {
        self.init()
        clientsConnected = s.connections
        clientsHandshaking = s.handshakingConnections
        traffic = s.traffic
        clusters = s.clusters
        topics = s.topics
        pendingRequests = s.pendingRequests
        forwardedRequests = s.forwardedRequests
        tunnels = s.tunnels
        remoteTunnels = s.remoteTunnels
        clientQueuedBytes = s.queuedBytes
        peakClientQueuedBytes = s.peakConnectionQueuedBytes
        relayQueuedBytes = s.peerQueuedBytes
        relaySessions = s.peerSessions
        relayFramesSent = s.peerFramesSent
        relayFramesReceived = s.peerFramesReceived
        relaySessionFailures = s.peerSessionFailures
        droppedBroadcasts = s.totalDroppedBroadcasts
        droppedEvents = s.totalDroppedEvents
        overloadedRequests = s.overloadedRequests.values.reduce(0, +)
        lostEvents = s.lostEvents
        lostBroadcasts = s.lostBroadcasts
        for member in overlay.members { membersByState[member.state, default: 0] += 1 }
        let c = overlay.counters
        gossipDatagramsSent = c.datagramsSent
        gossipDatagramsReceived = c.datagramsReceived
        gossipBytesSent = c.datagramBytesSent
        gossipDatagramsDropped = [
            "authentication": c.droppedAuthentication, "stale": c.droppedStale, "replayed": c.droppedReplayed,
            "malformed": c.droppedMalformed, "undecodable": c.droppedUndecodable,
        ]
        membershipStreamFailures = c.streamFailures + c.streamSendFailures
        joinFailures = c.joinFailures
        if let f = overlay.failureDetector {
            var m = MembershipMetricsSample()
            m.probesSent = f.probesSent
            m.probesAcknowledged = f.probesAcknowledged
            m.probesFailed = f.probesFailed
            m.probeRoundTrip = f.probeRoundTrip
            m.suspicionsRaised = f.suspicionsRaised
            m.suspicionsRefuted = f.suspicionsRefuted
            m.membersDeclaredDead = f.membersDeclaredDead
            m.selfRefutations = f.selfRefutations
            membership = m
        }
    }
}

extension ProtectionMetricsSample {
    /// The figures of the relay's cluster-key protection.
    init(_ s: ProtectionStatus) {
        self.init()
        protectedNames = s.entries.count
        unprovenDirectoryEntries = s.unprovenDirectoryEntries
        refusedRegistrations = s.refusedRegistrations
        refusedRequests = s.refusedRequests
        refusedTunnels = s.refusedTunnels
        refusedFanOut = s.refusedFanOut
        refusedFromRelays = s.refusedFromRelays
        sealed = s.sealed
        opened = s.opened
        openFailures = s.openFailures
    }
}
