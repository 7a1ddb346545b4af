import NIOCore
import PlexusVocabulary
import PlexusPeerWire
import PlexusWire

extension RelayCore {
    /// §6: every member of the cluster, the sender included, on this relay and on every other
    /// relay serving the cluster (one frame per relay, which delivers to its own members). A
    /// member whose outbound queue is full, or a relay whose queue is over twice its bound, loses
    /// this broadcast; the loss is counted per cluster.
    mutating func broadcast(cluster: ByteBuffer, message: ByteBuffer, from source: ConnectionID?, now: NIODeadline) {
        counters.traffic.broadcastsIn &+= 1
        let name = WireName(cluster)
        let check = protection.fanOutCheck(name, kind: .cluster)
        if let refusal = check.refusal { return refuseFanOut(source, reason: refusal) }
        deliverBroadcastLocally(name, message: message)
        guard let relays = router.directory.clusters[name] else { return }
        let message = fanOutPayload(message, keys: check.keys, kind: .broadcast, toward: relays.lazy.map(\.node))
        var previous: NodeID?
        for server in relays where server.node != previous {
            previous = server.node
            guard router.reachable(server.node, now: now) else {
                RelayCounters.countDrop(&counters.droppedBroadcasts, name)
                counters.lostBroadcasts.count(.relayUnreachable)
                continue
            }
            if !sendFanOut(.broadcast(cluster: cluster, message: message), to: server.node, from: source) {
                RelayCounters.countDrop(&counters.droppedBroadcasts, name)
                counters.lostBroadcasts.count(.relayQueueFull)
            }
        }
    }

    /// A broadcast to the local members only (from a local client or another relay).
    mutating func deliverBroadcastLocally(_ name: WireName, message: ByteBuffer) {
        let members = routes.members(of: name)
        guard !members.isEmpty else { return }
        let packet = RelayPacket.broadcast(message: message)
        let size = packet.encodedSize
        for destination in members {
            switch destination {
            case .local(let id):
                if hasRoom(id, bytes: size) {
                    send(packet, to: id)
                    counters.traffic.broadcastsOut &+= 1
                } else {
                    RelayCounters.countDrop(&counters.droppedBroadcasts, name)
                    counters.lostBroadcasts.count(.slowConsumer)
                }
            }
        }
    }

    /// §8: every subscriber, the publisher included, on this relay and on every other relay with
    /// subscribers (one frame per relay). Drops at a full queue are counted per topic.
    mutating func publish(topic: ByteBuffer, event: ByteBuffer, from source: ConnectionID?, now: NIODeadline) {
        counters.traffic.eventsIn &+= 1
        let name = WireName(topic)
        let check = protection.fanOutCheck(name, kind: .topic)
        if let refusal = check.refusal { return refuseFanOut(source, reason: refusal) }
        deliverEventLocally(name, topic: topic, event: event)
        guard let relays = router.directory.topics[name] else { return }
        let event = fanOutPayload(event, keys: check.keys, kind: .event, toward: relays)
        for node in relays {
            guard router.reachable(node, now: now) else {
                RelayCounters.countDrop(&counters.droppedEvents, name)
                counters.lostEvents.count(.relayUnreachable)
                continue
            }
            if !sendFanOut(.publish(topic: topic, event: event), to: node, from: source) {
                RelayCounters.countDrop(&counters.droppedEvents, name)
                counters.lostEvents.count(.relayQueueFull)
            }
        }
    }

    /// An event to the local subscribers only (from a local client or another relay).
    mutating func deliverEventLocally(_ name: WireName, topic: ByteBuffer, event: ByteBuffer) {
        let subscribers = routes.subscribers(of: name)
        guard !subscribers.isEmpty else { return }
        let packet = RelayPacket.publish(topic: topic, event: event)
        let size = packet.encodedSize
        for destination in subscribers {
            switch destination {
            case .local(let id):
                if hasRoom(id, bytes: size) {
                    send(packet, to: id)
                    counters.traffic.eventsOut &+= 1
                } else {
                    RelayCounters.countDrop(&counters.droppedEvents, name)
                    counters.lostEvents.count(.slowConsumer)
                }
            }
        }
    }

    /// Duplicate subscriptions are no-ops (§14.7). A topic name outside `OverlayLimits.nameBytes`,
    /// or a new topic beyond `OverlayLimits.maxTopicsPerRelay`, closes the connection with the
    /// limit as its reason (SUBSCRIBE has no answer in v1).
    mutating func subscribe(_ id: ConnectionID, topic: ByteBuffer) {
        if let refusal = OverlayLimits.nameRefusal(kind: "topic", byteCount: topic.readableBytes) {
            drop(id, reason: refusal)
            return
        }
        let name = WireName(topic)
        if let refusal = protection.refusal(topic: name) { return refuseFanOut(id, reason: refusal) }
        guard connections[id]?.subscriptions.contains(name) == false else { return }
        guard !routes.subscribers(of: name).isEmpty || routes.topicCount < OverlayLimits.maxTopicsPerRelay else {
            drop(id, reason: Self.topicLimitReason)
            return
        }
        let stored = WireName.compact(topic)
        connections[id]?.subscriptions.insert(stored)
        _ = routes.subscribe(id, to: stored)
    }

    /// Unsubscribing a topic that is not subscribed is a no-op (§14.7).
    mutating func unsubscribe(_ id: ConnectionID, topic: ByteBuffer) {
        let name = WireName(topic)
        guard connections[id]?.subscriptions.remove(name) != nil else { return }
        _ = routes.unsubscribe(id, from: name)
    }
}
