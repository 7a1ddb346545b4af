import NIOCore
import PlexusPeerWire
import PlexusVocabulary

/// Back-pressure across a gateway link (`Docs/federation.md` §6), like the relay-to-relay queues:
/// a client whose broadcasts or events go to another overlay through a gateway that cannot send
/// them as fast stops being read until the gateway catches up, instead of having the excess
/// refused there.
///
/// The gateway relay's core counts, per other overlay, the bytes (name + message) it handed to
/// its gateway and that have not left it yet (written to the link's socket, refused, or unwanted
/// — `federationDrained`); this covers the gateway's task queue as well as its link queue. Above
/// `federationSoftBoundBytes` the path is congested until the count is down to half: the gateway
/// relay pauses its own publishing clients and tells the relays that feed it (GATEWAY_CONGESTION),
/// which pause theirs; every client paused for a path is resumed when it clears or when the
/// gateway relay fails. A paused client's message still goes: what exceeds the link's hard bound
/// (`GatewayRouterSettings.linkQueueLimitBytes`, 8 MiB; 4 × this soft bound) is refused and counted.
extension RelayCore {
    /// Bytes handed to the gateway for one overlay above which publishers are paused (2 MiB).
    static let federationSoftBoundBytes = 2 << 20

    // MARK: On the gateway relay

    /// Hands a broadcast or event for `overlay` to the gateway, counting it.
    mutating func handToGateway(_ effect: FederationEffect, overlay: ByteBuffer, name: ByteBuffer, message: ByteBuffer) {
        effects.append(.federation(effect))
        let count = (router.federation.handedOver[overlay] ?? 0) + Self.handedOverSize(name: name, message: message)
        router.federation.handedOver[overlay] = count
        let path = GatewayPath(gateway: router.settings.localNode, overlay: overlay)
        if count > Self.federationSoftBoundBytes, !router.federation.congested.contains(path) { signalCongestion(path, true) }
    }

    /// What `handToGateway` counts for a message: as the gateway measures it (`GatewayHooks.drained`).
    static func handedOverSize(name: ByteBuffer, message: ByteBuffer) -> Int {
        String(buffer: name).utf8.count + message.readableBytes
    }

    /// The gateway reports that `bytes` of what was handed over for `overlay` left it.
    package mutating func federationDrained(overlay: ByteBuffer, bytes: Int, now: NIODeadline) {
        clock = now
        let count = max(0, (router.federation.handedOver[overlay] ?? 0) - bytes)
        router.federation.handedOver[overlay] = count == 0 ? nil : count
        let path = GatewayPath(gateway: router.settings.localNode, overlay: overlay)
        if count <= Self.federationSoftBoundBytes / 2, router.federation.congested.contains(path) { signalCongestion(path, false) }
    }

    /// The gateway next to this relay stopped: nothing handed to it will be reported any more.
    package mutating func federationGatewayStopped(now: NIODeadline) {
        clock = now
        router.federation.handedOver = [:]
        for path in router.federation.congested where path.gateway == router.settings.localNode { signalCongestion(path, false) }
    }

    private mutating func signalCongestion(_ path: GatewayPath, _ congested: Bool) {
        setCongestion(path, congested)
        for node in router.federation.feeders.sorted() {
            sendPeer(.gatewayCongestion(overlay: path.overlay, congested: congested), to: node, dial: false)
        }
    }

    /// A relay handed this gateway relay traffic for another overlay: it will hear about congestion.
    mutating func noteFeeder(_ node: NodeID) {
        guard router.federation.feeders.insert(node).inserted else { return }
        for path in router.federation.congested.sorted(by: { $0.overlay.readableBytesView.lexicographicallyPrecedes($1.overlay.readableBytesView) })
            where path.gateway == router.settings.localNode {
            sendPeer(.gatewayCongestion(overlay: path.overlay, congested: true), to: node, dial: false)
        }
    }

    // MARK: On every relay

    /// GATEWAY_CONGESTION from gateway relay `node`.
    mutating func gatewayCongestion(overlay: ByteBuffer, congested: Bool, from node: NodeID) {
        setCongestion(GatewayPath(gateway: node, overlay: overlay), congested)
    }

    /// After handing a client's broadcast or event to `path`: pause the client if that path is
    /// congested (its message still went: the gateway's hard bound decides).
    mutating func pauseIfCongested(_ source: ConnectionID?, path: GatewayPath) {
        guard let source, router.federation.congested.contains(path), connections[source] != nil,
              router.federation.paused[path, default: []].insert(source).inserted else { return }
        router.federation.pauses += 1
        effects.append(.pauseReading(source))
    }

    /// Relay `node` failed: its paths are no longer congested (their clients are resumed) and it
    /// no longer feeds this gateway.
    mutating func federationPeerFailed(_ node: NodeID) {
        router.federation.feeders.remove(node)
        for path in router.federation.congested.filter({ $0.gateway == node }) { setCongestion(path, false) }
    }

    private mutating func setCongestion(_ path: GatewayPath, _ congested: Bool) {
        if congested {
            router.federation.congested.insert(path)
            return
        }
        router.federation.congested.remove(path)
        for client in (router.federation.paused.removeValue(forKey: path) ?? []).sorted() where connections[client] != nil {
            effects.append(.resumeReading(client))
        }
    }
}
