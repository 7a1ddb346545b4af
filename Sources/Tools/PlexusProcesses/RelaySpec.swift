import Foundation
import PlexusOverlay

/// One `plexus relay` process on loopback: its name and its three ports (random free ports).
/// `adminPort` is the port of its HTTP endpoint (`--http 127.0.0.1:PORT`), kept under its old
/// name so the tests that ask a relay for its status did not change.
public struct RelaySpec: Sendable {
    public let name: String
    public let clientPort: Int
    public let peerPort: Int
    public let adminPort: Int

    public init(name: String) {
        self.name = name
        clientPort = freePort()
        peerPort = freePort()
        adminPort = freePort()
    }

    /// `plexus relay` arguments: loopback only, its own data directory (which holds its HTTP
    /// token, `tokenFile(dataDirectory:)`), zone `zone-<name>` unless given, joining `join`.
    public func arguments(key: String, dataDirectory: String, join: [RelaySpec], zone: String? = nil) -> [String] {
        var arguments = ["relay", "--key", key, "--data-dir", dataDirectory,
                         "--port", "\(clientPort)", "--peer-port", "\(peerPort)",
                         "--peer-host", "127.0.0.1", "--advertise", "127.0.0.1",
                         "--http", "127.0.0.1:\(adminPort)", "--http-token-file", Self.tokenFile(dataDirectory: dataDirectory),
                         "--zone", zone ?? "zone-\(name)"]
        for seed in join { arguments += ["--join", "127.0.0.1:\(seed.peerPort)"] }
        return arguments
    }

    /// The relay's HTTP token file in its data directory.
    public static func tokenFile(dataDirectory: String) -> String { dataDirectory + "/http.token" }

    /// The relay's HTTP token (to send as `Authorization: Bearer TOKEN`), once it has started.
    public static func token(dataDirectory: String) -> String? {
        (try? String(contentsOfFile: tokenFile(dataDirectory: dataDirectory), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension RelayProcesses {
    /// Starts `relay` as the child named `relay.name` (data directory `data-<name>`).
    public func startRelay(_ relay: RelaySpec, key: String, join: [RelaySpec], zone: String? = nil) throws {
        let dataDirectory = path("data-\(relay.name)")
        setTokenFile(RelaySpec.tokenFile(dataDirectory: dataDirectory), adminPort: relay.adminPort)
        try start(relay.name, relay.arguments(key: key, dataDirectory: dataDirectory, join: join, zone: zone))
    }

    /// Waits (at most `timeout` seconds) until each of `relays` sees all of them alive; returns
    /// their node IDs by relay name, or nil.
    public func waitForOverlay(_ relays: [RelaySpec], timeout: Double) -> [String: String]? {
        var nodes: [String: String] = [:]
        let converged = waitUntil(timeout) {
            for relay in relays {
                guard let status = status(adminPort: relay.adminPort),
                      status.members.filter({ $0.state == "alive" }).count >= relays.count else { return false }
                nodes[relay.name] = status.node
            }
            return true
        }
        return converged ? nodes : nil
    }

    /// The alive members other than itself that `relay` sees, by node ID.
    public func remoteMembers(seenBy relay: RelaySpec) -> [MemberInfo] {
        status(adminPort: relay.adminPort)?.members.filter { !$0.isSelf && $0.state == "alive" } ?? []
    }

    /// Whether `relay` sees, on each of `nodes` (node IDs), a member of `cluster` (or a
    /// subscriber of `topic`) in its directory.
    public func isVisible(cluster: String? = nil, topic: String? = nil, on nodes: Set<String>, at relay: RelaySpec) -> Bool {
        let serving = remoteMembers(seenBy: relay).filter { member in
            (cluster.map { name in member.clusters.contains { $0.name == name } } ?? true)
                && (topic.map { member.topics.contains($0) } ?? true)
        }
        return nodes.isSubset(of: Set(serving.map(\.node)))
    }

    /// `isVisible`, polled every 100 ms for at most `timeout` seconds.
    public func waitUntilVisible(cluster: String? = nil, topic: String? = nil, on nodes: Set<String>, at relay: RelaySpec,
                                 timeout: Double = 15) -> Bool {
        waitUntil(timeout) { isVisible(cluster: cluster, topic: topic, on: nodes, at: relay) }
    }
}
