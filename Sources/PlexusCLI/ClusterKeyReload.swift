import ArgumentParser
import Foundation
import Logging
import PlexusCrypto
import PlexusNode
import PlexusSettings
import ServiceLifecycle
import UnixSignals

/// The cluster-key flags of `plexus relay`, kept for reloads: on SIGHUP the relay resolves them
/// again (flag > `PLEXUS_*` environment > config file, which is read again) and re-reads every key
/// file they name.
struct ClusterKeyFlags: Sendable {
    var config: String?
    var clusterKeys: [String]
    var acceptClusterKeys: [String]
    var topicKeys: [String]
    var acceptTopicKeys: [String]
    var protectedOnly: Bool?

    init(_ flags: RelayFlags) {
        config = flags.config
        clusterKeys = flags.clusterKeys
        acceptClusterKeys = flags.acceptClusterKeys
        topicKeys = flags.topicKeys
        acceptTopicKeys = flags.acceptTopicKeys
        protectedOnly = flags.protectedOnly
    }

    /// The `NAME=FILE` options, each checked (the files are read by `ClusterKeyring.load`).
    func options(_ settings: LayeredSettings) throws -> [ClusterKeyOption] {
        let sources: [(String, [String], ProtectedNameKind, ClusterKeyOption.Role)] = [
            ("cluster-key", clusterKeys, .cluster, .primary),
            ("accept-cluster-key", acceptClusterKeys, .cluster, .accepted),
            ("topic-key", topicKeys, .topic, .primary),
            ("accept-topic-key", acceptTopicKeys, .topic, .accepted),
        ]
        var options: [ClusterKeyOption] = []
        for (key, flag, kind, role) in sources {
            for text in settings.list(key, flag: flag) {
                do {
                    options.append(try ClusterKeyOption.parse(text, kind: kind, role: role, flag: "--\(key)"))
                } catch {
                    throw ValidationError("\(error)")
                }
            }
        }
        return options
    }

    /// Resolves the keys again (the config file is read again) and loads every key file.
    func reload(environment: [String: String]) throws -> (keyring: ClusterKeyring, protectedOnly: Bool) {
        var file: (path: String, bytes: [UInt8])?
        if let path = config ?? environment["PLEXUS_CONFIG"] {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("--config \(path): cannot read the file")
            }
            file = (path, Array(data.prefix(LayeredSettings.maximumFileBytes + 1)))
        }
        let settings = try LayeredSettings(kinds: RelayOptions.kinds, configFile: file, environment: environment,
                                           ignoredEnvironment: RelayOptions.ignoredEnvironment)
        let keyring = try ClusterKeyring.load(try options(settings))
        return (keyring, settings.boolean("protected-only", flag: protectedOnly) ?? false)
    }
}

enum ClusterKeyLog {
    /// One line per protected name with its fingerprints (never a key).
    static func log(_ keyring: ClusterKeyring, protectedOnly: Bool, logger: Logger, message: Logger.Message) {
        guard !keyring.isEmpty || protectedOnly else { return }
        let names = keyring.fingerprints.map { entry in
            "\(entry.name) key \(entry.primary)" + (entry.accepted.isEmpty ? "" : " accepting \(entry.accepted.map(\.description).joined(separator: ","))")
        }
        logger.notice(message, metadata: ["protected": "\(names.joined(separator: "; "))", "protectedOnly": "\(protectedOnly)"])
    }
}

/// Re-reads the cluster keys on SIGHUP and swaps them in without a restart (open sessions,
/// tunnels and pending requests are kept). A reload that fails (a missing or unreadable key file,
/// a bad option) is logged and changes nothing. See Docs/key-rotation.md.
struct ClusterKeyReloader: Service {
    let node: RelayNode
    let flags: ClusterKeyFlags
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        logger.info("SIGHUP reloads the cluster keys from now on")
        for await _ in signals.cancelOnGracefulShutdown() {
            await reload()
        }
    }

    func reload() async {
        do {
            let (keyring, protectedOnly) = try flags.reload(environment: ProcessInfo.processInfo.environment)
            await node.updateClusterKeys(keyring, protectedOnly: protectedOnly)
            ClusterKeyLog.log(keyring, protectedOnly: protectedOnly, logger: logger, message: "cluster keys reloaded")
            if keyring.isEmpty && !protectedOnly { logger.notice("cluster keys reloaded: no protected names") }
        } catch {
            logger.error("cluster keys not reloaded; the previous keys stay in force", metadata: ["error": "\(error)"])
        }
    }
}
