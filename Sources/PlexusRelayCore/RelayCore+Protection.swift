import NIOCore
import PlexusCrypto
import PlexusMembership
import PlexusPeerWire

/// What cluster-key protection did on this relay (`plexus status`, metrics).
package struct ProtectionCounters: Sendable, Equatable {
    /// Registrations of a member of a protected cluster without its key here (DENY).
    package var refusedRegistrations = 0
    /// Requests and tunnels refused at once (protected name without its key here, or strict mode).
    package var refusedRequests = 0
    package var refusedTunnels = 0
    /// Clients closed for a broadcast, publish or subscription on a protected name without its key.
    package var refusedFanOut = 0
    /// Payloads sealed toward other relays, and sealed payloads opened.
    package var sealed = 0
    package var opened = 0
    /// Sealed payloads from other relays that did not open (dropped; a request is failed at once).
    package var openFailures = 0
    /// Frames from other relays for a protected name this relay holds no key for (dropped or failed).
    package var refusedFromRelays = 0

    package init() {}
}

extension RelayCore {
    /// Lines for the driver to log (rate-limited there); at most this many wait.
    static let maxProtectionLogLines = 32

    /// Replaces the cluster keys (start-up, or a reload on SIGHUP): names, keys and strict mode
    /// take effect for every message from now on; the directory view is rebuilt with the new keys.
    /// Requests already forwarded keep the keys they were sealed with (their replies still open).
    /// `fastSeal: false` keeps this relay to seal suite 1 (it must then not advertise suite 2:
    /// `ClusterProtection.claims(of:node:version:suites: nil)`); the default uses AES-256-GCM
    /// where the CPU has it.
    package mutating func setClusterKeys(_ keyring: ClusterKeyring, protectedOnly: Bool, fastSeal: Bool = true) {
        protection = ClusterProtection(keyring: keyring, protectedOnly: protectedOnly, fastSeal: fastSeal)
        protection.noteDirectory(router.snapshot, localNode: router.settings.localNode)
        router.directoryChanged(router.snapshot, protection: protection)
    }

    /// The protection in force (status: protected names and fingerprints, never keys).
    package var clusterProtection: ClusterProtection { protection }

    /// Relay entries of the current directory left out for lack of a valid claim.
    package var unprovenDirectoryEntries: Int { router.directory.unprovenEntries }

    /// Relays whose claims verified: "<node> <kind> \"<name>\" <fingerprint>" per name.
    package var provenDirectoryEntries: [String] { router.directory.provenEntries }

    /// Takes the lines waiting to be logged.
    package mutating func takeProtectionLog() -> [String] {
        guard !protectionLog.isEmpty else { return [] }
        defer { protectionLog.removeAll() }
        return protectionLog
    }

    mutating func logProtection(_ line: String) {
        if protectionLog.count < Self.maxProtectionLogLines { protectionLog.append(line) }
    }

    // MARK: Sealing

    /// `payload` sealed under the name's primary key (a copy; only protected names pay for it):
    /// with suite 2 (AES-256-GCM) when `fast` (every relay it goes to opens it,
    /// `ClusterProtection.sealsFast`), else suite 1.
    mutating func seal(_ payload: ByteBuffer, keys: LocalKeys, context: SealContext, fast: Bool) -> ByteBuffer {
        protectionCounters.sealed &+= 1
        let length = payload.readableBytes + SealedEnvelope.overhead
        var sealed = ByteBufferAllocator().buffer(capacity: length)
        let key = keys.keys.primary
        payload.withUnsafeReadableBytes { plaintext in
            _ = sealed.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { out in
                if fast, let written = SealedEnvelope.sealFast(plaintext, key: key, context: context, fast: &protection.fast,
                                                               into: out) {
                    return written
                }
                return SealedEnvelope.seal(plaintext, key: key, context: context, nonces: &nonces, into: out)
            }
        }
        return sealed
    }

    /// `seal` toward relay `node` (suite 2 if it opens it).
    mutating func seal(_ payload: ByteBuffer, keys: LocalKeys, context: SealContext, toward node: NodeID) -> ByteBuffer {
        seal(payload, keys: keys, context: context, fast: protection.sealsFast(toward: node))
    }

    /// Opens a sealed payload from relay `node`, or counts and logs the failure and returns nil.
    /// `sequenceFromHeader`: fan-out carries its sequence number in the envelope.
    mutating func open(_ sealed: ByteBuffer, keys: LocalKeys, context: SealContext, from node: NodeID,
                       sequenceFromHeader: Bool = false) -> ByteBuffer? {
        do {
            let length = SealedEnvelope.openBufferCount(sealedCount: sealed.readableBytes)
            var plaintext = ByteBufferAllocator().buffer(capacity: length)
            try sealed.withUnsafeReadableBytes { bytes in
                var context = context
                if sequenceFromHeader { context.sequence = try SealedEnvelope.header(bytes).sequence }
                _ = try plaintext.writeWithUnsafeMutableBytes(minimumWritableBytes: max(1, length)) { out in
                    try SealedEnvelope.open(bytes, keys: keys.keys, context: context, fast: &protection.fast, into: out)
                }
            }
            protectionCounters.opened &+= 1
            return plaintext
        } catch {
            protectionCounters.openFailures &+= 1
            logProtection("sealed \(context.kind) for \(keys.name) from relay \(node) dropped: \(error)")
            return nil
        }
    }

    /// The seal context of request `id` from `origin` (the requesting relay) and its answers.
    func requestContext(_ kind: SealedKind, keys: LocalKeys, origin: NodeID, id: UInt64) -> SealContext {
        SealContext(kind: kind, direction: kind == .request ? .towardServer : .towardOrigin, name: keys.name,
                    origin: origin, identity: id)
    }

    /// The next sequence number of this relay's sealed broadcasts and events.
    mutating func nextFanOutSequence() -> UInt64 {
        fanOutSequence &+= 1
        return fanOutSequence
    }

    static func openFailedReason(_ what: String, _ keys: LocalKeys, relay: NodeID) -> String {
        "plexus: refused: the sealed \(what) for \(keys.name) did not open under the key of relay \(relay) (another or a retired key?)"
    }
}

// MARK: - Protected traffic between relays

extension RelayCore {
    /// The answer to a sealed request: opened under the keys it was sealed with; one that does
    /// not open fails the request at once with a clear fault (never silently).
    mutating func answerSealedReply(_ request: ClientRequest, id: UInt64, outcome: PeerReplyOutcome, keys: LocalKeys,
                                    from node: NodeID) {
        let local = router.settings.localNode
        switch outcome {
        case .success(let reply):
            if let opened = open(reply, keys: keys, context: requestContext(.reply, keys: keys, origin: local, id: id), from: node) {
                answerClient(request, with: .success(opened))
            } else {
                answerClient(request, with: .fault(ByteBuffer(string: Self.openFailedReason("reply", keys, relay: node))),
                             countedAs: .failed)
            }
        case .fault(let text):
            if let opened = open(text, keys: keys, context: requestContext(.fault, keys: keys, origin: local, id: id), from: node) {
                answerClient(request, with: .fault(opened))
            } else {
                answerClient(request, with: .fault(ByteBuffer(string: Self.openFailedReason("fault", keys, relay: node))),
                             countedAs: .failed)
            }
        case .timedOut:
            answerClient(request, with: .timedOut)
        case .failed(let reason):
            // The serving relay's own refusal (its key did not open the request, or it holds none) is
            // passed on as a fault so the client learns why; other failures stay timed-out (v1).
            let refused = reason.readableBytesView.starts(with: Self.refusedPrefix.utf8)
            answerClient(request, with: refused ? .fault(reason) : .timedOut, countedAs: refused ? .refused : .failed)
        }
    }

    static let refusedPrefix = "plexus: refused"

    /// A BROADCAST from another relay while protection is active.
    mutating func receiveProtectedBroadcast(_ cluster: ByteBuffer, message: ByteBuffer, from node: NodeID) {
        let name = WireName(cluster)
        let routable = protection.routable(name, kind: .cluster)
        guard routable.allowed else { return refuseFromRelay(kind: "broadcast", name, from: node) }
        guard let keys = routable.keys else { return deliverBroadcastLocally(name, message: message) }
        let context = SealContext(kind: .broadcast, direction: .towardServer, name: keys.name, origin: node, identity: 0)
        guard let opened = open(message, keys: keys, context: context, from: node, sequenceFromHeader: true) else { return }
        deliverBroadcastLocally(name, message: opened)
    }

    /// A PUBLISH from another relay while protection is active.
    mutating func receiveProtectedEvent(_ topic: ByteBuffer, event: ByteBuffer, from node: NodeID) {
        let name = WireName(topic)
        let routable = protection.routable(name, kind: .topic)
        guard routable.allowed else { return refuseFromRelay(kind: "event", name, from: node) }
        guard let keys = routable.keys else { return deliverEventLocally(name, topic: topic, event: event) }
        // No lookup of the local subscribers first (delivery does it): a relay is sent events
        // only for names it has subscribers for, and one more hash per event showed in profiles.
        let context = SealContext(kind: .event, direction: .towardServer, name: keys.name, origin: node, identity: 0)
        guard let opened = open(event, keys: keys, context: context, from: node, sequenceFromHeader: true) else { return }
        deliverEventLocally(name, topic: topic, event: opened)
    }

    private mutating func refuseFromRelay(kind: String, _ name: WireName, from node: NodeID) {
        protectionCounters.refusedFromRelays &+= 1
        logProtection("\(kind) for protected \"\(name)\" from relay \(node) dropped: this relay holds no key for it")
    }

    /// The sealed form of a broadcast or event toward the relays `nodes` under `keys` (the name's,
    /// from `ClusterProtection.fanOutCheck`), or the message itself for an unprotected name (no
    /// copy). Suite 2 only if every one of them opens it.
    mutating func fanOutPayload(_ message: ByteBuffer, keys: LocalKeys?, kind: SealedKind,
                                toward nodes: some Sequence<NodeID>) -> ByteBuffer {
        guard let keys else { return message }
        let context = SealContext(kind: kind, direction: .towardServer, name: keys.name, origin: router.settings.localNode,
                                  identity: 0, sequence: nextFanOutSequence())
        return seal(message, keys: keys, context: context, fast: protection.sealsFast(toward: nodes))
    }

    /// A client's broadcast, publish or subscription on a name it may not use here: closed with
    /// the reason (v1 has no answer to these packets).
    mutating func refuseFanOut(_ source: ConnectionID?, reason: String) {
        protectionCounters.refusedFanOut &+= 1
        if let source { drop(source, reason: reason) }
    }
}

// MARK: - Sealed tunnel chunks

extension RelayCore {
    /// The seal context of chunk `sequence` of bridged tunnel `id` in the direction it travels:
    /// origin and identity are the initiating relay and its tunnel id on both sides.
    private func tunnelContext(_ tunnel: BridgedTunnel, keys: LocalKeys, id: UInt64, outbound: Bool,
                               sequence: UInt64) -> SealContext {
        let initiator = tunnel.dials
        let towardAcceptor = initiator == outbound
        return SealContext(kind: .tunnel, direction: towardAcceptor ? .towardServer : .towardOrigin, name: keys.name,
                           origin: initiator ? router.settings.localNode : tunnel.node,
                           identity: initiator ? id : tunnel.peerTunnelID, sequence: sequence)
    }

    /// Seals the next chunk of tunnel `id` toward the peer relay.
    mutating func sealTunnelChunk(_ data: ByteBuffer, id: UInt64) -> ByteBuffer {
        guard let tunnel = router.remoteTunnels.bridged[id], let keys = tunnel.sealing else { return data }
        router.remoteTunnels.bridged[id]?.sentChunks &+= 1
        return seal(data, keys: keys, context: tunnelContext(tunnel, keys: keys, id: id, outbound: true,
                                                             sequence: tunnel.sentChunks), toward: tunnel.node)
    }

    /// Opens the next chunk of tunnel `id` from the peer relay; one that does not open (another
    /// key, tampering, a chunk missing, repeated or reordered) closes the tunnel on both sides with
    /// the reason, and nil is returned.
    mutating func openTunnelChunk(_ data: ByteBuffer, id: UInt64, from node: NodeID) -> ByteBuffer? {
        guard let tunnel = router.remoteTunnels.bridged[id], let keys = tunnel.sealing else { return data }
        router.remoteTunnels.bridged[id]?.receivedChunks &+= 1
        let context = tunnelContext(tunnel, keys: keys, id: id, outbound: false, sequence: tunnel.receivedChunks)
        if let opened = open(data, keys: keys, context: context, from: node) { return opened }
        guard let removed = router.remoteTunnels.remove(id) else { return nil }
        let reason = ByteBuffer(string: Self.openFailedReason("tunnel data", keys, relay: node))
        deliverClose(of: removed, reason: reason)
        sendPeer(.tunnelClose(tunnelID: removed.peerTunnelID, reason: reason), to: node, dial: removed.dials)
        return nil
    }
}
