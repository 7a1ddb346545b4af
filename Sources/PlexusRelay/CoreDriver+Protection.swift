import Logging
import NIOCore
import PlexusCrypto
import PlexusRelayCore

/// What `plexus status` shows about cluster keys: names and fingerprints (never keys), strict
/// mode, and what protection did.
public struct ProtectionStatus: Sendable, Equatable {
    /// One protected name: "cluster billing" / "topic news", its primary key's fingerprint and the
    /// fingerprints of keys still accepted.
    public struct Entry: Sendable, Equatable {
        public let kind: String
        public let name: String
        public let fingerprint: String
        public let accepted: [String]
    }

    public let entries: [Entry]
    public let protectedOnly: Bool
    public let refusedRegistrations: Int
    public let refusedRequests: Int
    public let refusedTunnels: Int
    public let refusedFanOut: Int
    public let sealed: Int
    public let opened: Int
    public let openFailures: Int
    public let refusedFromRelays: Int
    /// Relay entries of the directory left out for lack of a valid claim.
    public let unprovenDirectoryEntries: Int
    /// Relays whose claims verified: "<node> <kind> \"<name>\" <fingerprint>" per name.
    public let provenDirectoryEntries: [String]
}

extension CoreDriver {
    /// Swaps the cluster keys on the core loop (start-up keys come with the configuration).
    func setClusterKeys(_ keyring: ClusterKeyring, protectedOnly: Bool) {
        core.setClusterKeys(keyring, protectedOnly: protectedOnly)
    }

    var protectionStatus: ProtectionStatus {
        let protection = core.clusterProtection
        let counters = core.protectionCounters
        return ProtectionStatus(
            entries: protection.keyring.fingerprints.map {
                ProtectionStatus.Entry(kind: "\($0.name.kind)", name: String(decoding: $0.name.name, as: UTF8.self),
                                       fingerprint: "\($0.primary)", accepted: $0.accepted.map { "\($0)" })
            },
            protectedOnly: protection.protectedOnly, refusedRegistrations: counters.refusedRegistrations,
            refusedRequests: counters.refusedRequests, refusedTunnels: counters.refusedTunnels,
            refusedFanOut: counters.refusedFanOut, sealed: counters.sealed, opened: counters.opened,
            openFailures: counters.openFailures, refusedFromRelays: counters.refusedFromRelays,
            unprovenDirectoryEntries: core.unprovenDirectoryEntries, provenDirectoryEntries: core.provenDirectoryEntries)
    }

    /// Logs what the core noted about protected traffic from other relays (payloads that did not
    /// open, frames for names without a key), at most a few lines per interval.
    func logProtectionIncidents() {
        let lines = core.takeProtectionLog()
        guard !lines.isEmpty else { return }
        let now = NIODeadline.now()
        for line in lines {
            let (log, suppressed) = protectionLogThrottle.admit(now: now)
            guard log else { continue }
            logger.warning("protected traffic dropped: \(line)",
                           metadata: suppressed > 0 ? ["suppressedBefore": "\(suppressed)"] : [:])
        }
    }
}

extension RelayServer {
    /// Replaces the cluster keys and strict mode at run time (SIGHUP): new messages use them at
    /// once; open tunnels and requests already forwarded keep the keys they were sealed with.
    public func updateClusterKeys(_ keyring: ClusterKeyring, protectedOnly: Bool) async {
        let driver = self.coreDriver
        try? await driver.eventLoop.submit { driver.value.setClusterKeys(keyring, protectedOnly: protectedOnly) }.get()
    }

    /// Protected names with fingerprints, and the protection counters, taken on the core loop.
    public func protectionStatus() async throws -> ProtectionStatus {
        let driver = self.coreDriver
        return try await driver.eventLoop.submit { driver.value.protectionStatus }.get()
    }
}
