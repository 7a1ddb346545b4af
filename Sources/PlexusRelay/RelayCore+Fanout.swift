import NIOCore
import PlexusWire

extension RelayCore {
    /// §6: every member of the cluster, the sender included. A member whose outbound queue is
    /// full loses this broadcast; the loss is counted per cluster.
    mutating func broadcast(cluster: ByteBuffer, message: ByteBuffer) {
        let name = Name(cluster)
        let members = routes.members(of: name)
        guard !members.isEmpty else { return }
        let packet = RelayPacket.broadcast(message: message)
        let size = packet.encodedSize
        for destination in members {
            switch destination {
            case .local(let id):
                if hasRoom(id, bytes: size) {
                    send(packet, to: id)
                } else {
                    RelayCounters.countDrop(&counters.droppedBroadcasts, name)
                }
            }
        }
    }

    /// §8: every subscriber, the publisher included. Drops at a full queue are counted per topic.
    mutating func publish(topic: ByteBuffer, event: ByteBuffer) {
        let name = Name(topic)
        let subscribers = routes.subscribers(of: name)
        guard !subscribers.isEmpty else { return }
        let packet = RelayPacket.publish(topic: topic, event: event)
        let size = packet.encodedSize
        for destination in subscribers {
            switch destination {
            case .local(let id):
                if hasRoom(id, bytes: size) {
                    send(packet, to: id)
                } else {
                    RelayCounters.countDrop(&counters.droppedEvents, name)
                }
            }
        }
    }

    /// Duplicate subscriptions are no-ops (§14.7).
    mutating func subscribe(_ id: ConnectionID, topic: ByteBuffer) {
        let name = Name(topic)
        guard connections[id]?.subscriptions.contains(name) == false else { return }
        let stored = Name.compact(topic)
        connections[id]!.subscriptions.insert(stored)
        _ = routes.subscribe(id, to: stored)
    }

    /// Unsubscribing a topic that is not subscribed is a no-op (§14.7).
    mutating func unsubscribe(_ id: ConnectionID, topic: ByteBuffer) {
        let name = Name(topic)
        guard connections[id]?.subscriptions.remove(name) != nil else { return }
        _ = routes.unsubscribe(id, from: name)
    }
}
