import PlexusRelay

/// The cluster-key part of `GET /v1/status` (`protection`) and of `plexus status`: protected
/// names with their key fingerprints (never keys), strict mode, and what protection did.
struct ProtectionReport: Codable, Sendable, Equatable {
    struct ProtectedName: Codable, Sendable, Equatable {
        var kind: String
        var name: String
        var fingerprint: String
        var accepted: [String]
    }

    var names: [ProtectedName]
    var protectedOnly: Bool
    var refusedRegistrations: Int
    var refusedRequests: Int
    var refusedTunnels: Int
    var refusedFanOut: Int
    var sealed: Int
    var opened: Int
    var openFailures: Int
    var refusedFromRelays: Int
    var unprovenDirectoryEntries: Int
    /// Relays whose claims verified here: "<node> <kind> \"<name>\" <fingerprint>".
    var proven: [String]

    init(_ s: ProtectionStatus) {
        names = s.entries.map { ProtectedName(kind: $0.kind, name: $0.name, fingerprint: $0.fingerprint, accepted: $0.accepted) }
        protectedOnly = s.protectedOnly
        refusedRegistrations = s.refusedRegistrations
        refusedRequests = s.refusedRequests
        refusedTunnels = s.refusedTunnels
        refusedFanOut = s.refusedFanOut
        sealed = s.sealed
        opened = s.opened
        openFailures = s.openFailures
        refusedFromRelays = s.refusedFromRelays
        unprovenDirectoryEntries = s.unprovenDirectoryEntries
        proven = s.provenDirectoryEntries
    }

    /// The lines `plexus status` prints (nothing when no name is protected and strict mode is off).
    var lines: [String] {
        guard !names.isEmpty || protectedOnly else { return [] }
        var lines = names.map { entry in
            "protected \(entry.kind) \(entry.name): key \(entry.fingerprint)"
                + (entry.accepted.isEmpty ? "" : ", also accepting \(entry.accepted.joined(separator: ", "))")
        }
        lines += proven.map { "proven: relay \($0)" }
        if protectedOnly { lines.append("protected-only: names without a key are refused") }
        lines.append("protection: \(sealed) sealed, \(opened) opened, \(openFailures) failed to open; refused: \(refusedRegistrations) registrations, \(refusedRequests) requests, \(refusedTunnels) tunnels, \(refusedFanOut) broadcast/publish/subscribe, \(refusedFromRelays) from relays; \(unprovenDirectoryEntries) unproven directory entries skipped")
        return lines
    }
}

/// The `protection` key of the status document, decoded on its own by `plexus status`.
struct ProtectionHeadline: Decodable {
    var protection: ProtectionReport?
}
