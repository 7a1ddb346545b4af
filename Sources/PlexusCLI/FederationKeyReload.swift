import ArgumentParser
import Foundation
import Logging
import PlexusCrypto
import PlexusNode
import PlexusSettings
import ServiceLifecycle
import UnixSignals

/// Re-reads the federation keyring on SIGHUP (`Docs/federation.md` §2, rotation): the federation
/// settings are resolved again (flag > `PLEXUS_*` environment > config file, read again) and the
/// key files they name are loaded; the gateway uses the new keyring for every handshake from then
/// on. Links already established stay up (their sessions do not depend on the PSK any more).
/// A reload that fails is logged and changes nothing. Other gateway settings (port, joins,
/// overlay) need a restart; a change to them is logged.
struct FederationKeyReloader: Service {
    let gateway: GatewayService
    let config: String?
    let flags: GatewayOptions.Flags
    let started: GatewayOptions
    let logger: Logger

    /// The federation settings and keyring as they would be resolved now.
    static func load(config: String?, flags: GatewayOptions.Flags, environment: [String: String]) throws -> (GatewayOptions, Keyring) {
        var file: (path: String, bytes: [UInt8])?
        if let path = config ?? environment["PLEXUS_CONFIG"] {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("--config \(path): cannot read the file")
            }
            file = (path, Array(data.prefix(LayeredSettings.maximumFileBytes + 1)))
        }
        let settings: LayeredSettings
        do {
            settings = try LayeredSettings(kinds: RelayOptions.kinds, configFile: file, environment: environment,
                                           ignoredEnvironment: RelayOptions.ignoredEnvironment)
        } catch {
            throw ValidationError(error.description)
        }
        let options = try GatewayOptions.resolve(flags, settings: settings)
        guard let primary = options.federationKey else { throw ValidationError("no --federation-key any more; the gateway keeps its keys") }
        return (options, try Keyring.load(primaryPath: primary, acceptedPaths: options.acceptFederationKeys))
    }

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        logger.info("SIGHUP reloads the federation keys from now on")
        for await _ in signals.cancelOnGracefulShutdown() {
            reload(environment: ProcessInfo.processInfo.environment)
        }
    }

    func reload(environment: [String: String]) {
        do {
            let (options, keyring) = try Self.load(config: config, flags: flags, environment: environment)
            gateway.endpoint.updateFederationKeyring(keyring)
            logger.notice("federation keys reloaded; links stay up, new handshakes use them",
                          metadata: ["federation-key": "\(keyring.primary.fingerprint)",
                                     "accepting": "\(keyring.secondary.map(\.fingerprint).joined(separator: ","))"])
            var unchanged = options
            unchanged.federationKey = started.federationKey
            unchanged.acceptFederationKeys = started.acceptFederationKeys
            if unchanged != started {
                logger.warning("gateway settings other than its keys changed; they apply at the next restart")
            }
        } catch {
            logger.error("federation keys not reloaded; the previous keys stay in force", metadata: ["error": "\(error)"])
        }
    }
}
