import NIOCore
import PlexusCrypto
import PlexusRouting

/// A relay to send to: node ID and the address of its peer listener.
public struct PeerTarget: Sendable, Hashable {
    public var node: PlexusCrypto.NodeID
    public var host: String
    public var port: Int

    public init(node: PlexusCrypto.NodeID, host: String, port: Int) {
        self.node = node
        self.host = host
        self.port = port
    }
}

extension PeerRequestEndpoint {
    /// Sends BROADCAST to each target exactly once (callers pass `FanOut`'s relay list, ascending
    /// node ids, without this relay). A target whose link is at its byte bound is skipped and
    /// counted in `droppedBroadcasts[cluster]`. Returns how many relays were skipped.
    @discardableResult
    public func broadcast(cluster: ByteBuffer, message: ByteBuffer, to targets: [PeerTarget]) -> Int {
        var skipped = 0
        for target in targets
        where links.send(.broadcast(cluster: cluster, message: message), to: target.node, host: target.host,
                         port: target.port) == .overflow {
            skipped += 1
        }
        if skipped > 0 { droppedBroadcasts[String(buffer: cluster), default: 0] += skipped }
        return skipped
    }

    /// Sends PUBLISH to each target exactly once; overflow counted in `droppedEvents[topic]`.
    @discardableResult
    public func publish(topic: ByteBuffer, event: ByteBuffer, to targets: [PeerTarget]) -> Int {
        var skipped = 0
        for target in targets
        where links.send(.publish(topic: topic, event: event), to: target.node, host: target.host,
                         port: target.port) == .overflow {
            skipped += 1
        }
        if skipped > 0 { droppedEvents[String(buffer: topic), default: 0] += skipped }
        return skipped
    }
}
