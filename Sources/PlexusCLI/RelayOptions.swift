import ArgumentParser
import Foundation
import Logging
import PlexusCrypto
import PlexusHTTP
import PlexusOverlay
import PlexusSettings

/// The relay's settings after layering flag > `PLEXUS_*` environment > `--config` file > default,
/// and validated. Every problem is a `ValidationError` naming the flag (and where its value came
/// from when it was not the command line).
struct RelayOptions: Sendable {
    enum Profile: String, Sendable { case lan, wan }

    var port = 55555
    var dev = false
    var joins: [String] = []
    var peerPort: Int?
    var peerHost: String?
    /// nil: chosen at start (`AdvertiseChoice`).
    var advertise: String?
    var zone = ""
    var profile = Profile.lan
    var key: String?
    var acceptKeys: [String] = []
    /// `--cluster-key`, `--accept-cluster-key`, `--topic-key`, `--accept-topic-key`, parsed.
    var clusterKeyOptions: [ClusterKeyOption] = []
    var protectedOnly = false
    var dataDir: String?
    var discover: String?
    var discoverPort = 55552
    var http = HTTPListenAddress.defaultValue
    /// `--http-auth`: whether the endpoint's data needs the token.
    var httpTokenRequired = true
    /// `--http-token-file`; nil: `HTTPAccessToken.defaultPath`.
    var httpTokenFile: String?
    var handshakeTimeout = 5.0
    var outboundQueueLimit = 8 * 1024 * 1024
    var logLevel = Logger.Level.info
    var logFormat = LogFormat.text
    /// `PLEXUS_*` variables that name no setting (logged as a warning).
    var unknownEnvironment: [String] = []
    /// Where the config file was, if any.
    var configFile: String?
    /// The federation settings (`GatewayOptions`).
    var gateway = GatewayOptions()

    /// Every key a config file may hold, with its kind: the long flag names.
    static let kinds: [String: SettingKind] = [
        "port": .integer, "dev": .boolean, "join": .list, "peer-port": .integer, "peer-host": .string,
        "advertise": .string, "zone": .string, "profile": .string, "key": .string, "accept-key": .list,
        "data-dir": .string, "discover": .string, "discover-port": .integer, "http": .string,
        "http-auth": .string, "http-token-file": .string,
        "handshake-timeout": .number, "outbound-queue-limit": .integer, "log-level": .string, "log-format": .string,
        "cluster-key": .list, "accept-cluster-key": .list, "topic-key": .list, "accept-topic-key": .list,
        "protected-only": .boolean,
    ].merging(GatewayOptions.kinds) { relay, _ in relay }

    /// Environment variables with the prefix that are not settings.
    static let ignoredEnvironment: Set<String> = ["PLEXUS_CONFIG"]

    static func resolve(_ flags: RelayFlags, gateway: GatewayOptions.Flags = .init(), environment: [String: String]) throws -> RelayOptions {
        var options = RelayOptions()
        let path = flags.config ?? environment["PLEXUS_CONFIG"]
        var file: (path: String, bytes: [UInt8])?
        if let path {
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw ValidationError("--config \(path): cannot read the file")
            }
            defer { try? handle.close() }
            let data = (try? handle.read(upToCount: LayeredSettings.maximumFileBytes + 1)) ?? Data()
            file = (path, Array(data))
            options.configFile = path
        }
        let settings: LayeredSettings
        do {
            settings = try LayeredSettings(kinds: kinds, configFile: file, environment: environment,
                                           ignoredEnvironment: ignoredEnvironment)
        } catch {
            throw ValidationError(error.description)
        }
        options.unknownEnvironment = settings.unknownEnvironment
        let given: Set<String> = Set([
            flags.port.map { _ in "port" }, flags.dev.map { _ in "dev" }, flags.peerPort.map { _ in "peer-port" },
            flags.handshakeTimeout.map { _ in "handshake-timeout" }, flags.outboundQueueLimit.map { _ in "outbound-queue-limit" },
            flags.discoverPort.map { _ in "discover-port" }, flags.discover.map { _ in "discover" }, flags.key.map { _ in "key" },
            flags.joins.isEmpty ? nil : "join", flags.advertise.map { _ in "advertise" },
        ].compactMap { $0 })
        /// `--key`, followed by where its value came from when that was not the command line.
        func origin(_ key: String, _ flag: SettingValue? = nil) -> String {
            guard flag == nil, !given.contains(key), let source = settings.value(key, flag: nil)?.source else { return "--\(key)" }
            return "--\(key) (from \(source))"
        }

        options.port = settings.integer("port", flag: flags.port) ?? options.port
        options.dev = settings.boolean("dev", flag: flags.dev) ?? options.dev
        options.joins = settings.list("join", flag: flags.joins)
        options.peerPort = settings.integer("peer-port", flag: flags.peerPort)
        options.peerHost = settings.string("peer-host", flag: flags.peerHost)
        options.advertise = settings.string("advertise", flag: flags.advertise)
        options.zone = settings.string("zone", flag: flags.zone) ?? options.zone
        if let profile = settings.string("profile", flag: flags.profile) {
            guard let parsed = Profile(rawValue: profile) else {
                throw ValidationError("\(origin("profile", flags.profile.map(SettingValue.string))): '\(profile)' is not lan or wan")
            }
            options.profile = parsed
        }
        options.key = settings.string("key", flag: flags.key)
        options.acceptKeys = settings.list("accept-key", flag: flags.acceptKeys)
        let keyFlags = ClusterKeyFlags(flags)
        options.clusterKeyOptions = try keyFlags.options(settings)
        options.protectedOnly = settings.boolean("protected-only", flag: keyFlags.protectedOnly) ?? false
        options.dataDir = settings.string("data-dir", flag: flags.dataDir)
        options.discover = settings.string("discover", flag: flags.discover)
        options.discoverPort = settings.integer("discover-port", flag: flags.discoverPort) ?? options.discoverPort
        if let adminPort = flags.adminPort {
            guard (0...65535).contains(adminPort) else { throw ValidationError("--admin-port must be between 0 and 65535") }
            options.http = .address(host: "127.0.0.1", port: adminPort)
        } else if let http = settings.string("http", flag: flags.http) {
            do { options.http = try HTTPListenAddress.parse(http) } catch {
                throw ValidationError("\(origin("http", flags.http.map(SettingValue.string))) \(error)")
            }
        }
        if let auth = settings.string("http-auth", flag: flags.httpAuth) {
            guard auth == "token" || auth == "off" else {
                throw ValidationError("\(origin("http-auth", flags.httpAuth.map(SettingValue.string))): '\(auth)' is not token or off")
            }
            options.httpTokenRequired = auth == "token"
        }
        options.httpTokenFile = settings.string("http-token-file", flag: flags.httpTokenFile)
        options.handshakeTimeout = settings.number("handshake-timeout", flag: flags.handshakeTimeout) ?? options.handshakeTimeout
        options.outboundQueueLimit = settings.integer("outbound-queue-limit", flag: flags.outboundQueueLimit) ?? options.outboundQueueLimit
        if let level = settings.string("log-level", flag: flags.logLevel) {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw ValidationError("\(origin("log-level", flags.logLevel.map(SettingValue.string))): '\(level)' is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            options.logLevel = parsed
        }
        if let format = settings.string("log-format", flag: flags.logFormat) {
            guard let parsed = LogFormat(rawValue: format) else {
                throw ValidationError("\(origin("log-format", flags.logFormat.map(SettingValue.string))): '\(format)' is not text or json")
            }
            options.logFormat = parsed
        }
        options.gateway = try GatewayOptions.resolve(gateway, settings: settings)
        try options.validate(origin: { key in origin(key) })
        return options
    }

    /// The checks that need the resolved values. `origin` names a key's flag and its source.
    func validate(origin: (String) -> String) throws {
        guard (0...65535).contains(port) else { throw ValidationError("\(origin("port")) must be between 0 and 65535") }
        guard (0...65535).contains(peerPort ?? 0) else { throw ValidationError("\(origin("peer-port")) must be between 0 and 65535") }
        guard handshakeTimeout > 0 else { throw ValidationError("\(origin("handshake-timeout")) must be positive") }
        guard outboundQueueLimit >= 64 * 1024 else {
            throw ValidationError("\(origin("outbound-queue-limit")) must be at least 65536 bytes")
        }
        if dev {
            guard joins.isEmpty else { throw ValidationError("\(origin("dev")) joins nothing; drop \(origin("join")) or --dev") }
        } else {
            guard key != nil else {
                throw ValidationError("a network key is required: pass --key FILE (create one with `plexus keygen`), or use --dev")
            }
        }
        for join in joins {
            do { _ = try SeedResolver.split(join) } catch { throw ValidationError("\(origin("join")): \(error)") }
        }
        if let discover {
            guard discover == "lan" else { throw ValidationError("--discover supports only 'lan'") }
            guard !dev else { throw ValidationError("--dev joins nothing; drop --discover or --dev") }
            guard let advertise, advertise.split(separator: ".").count == 4, advertise.allSatisfy({ $0.isNumber || $0 == "." }) else {
                throw ValidationError("--discover lan needs --advertise set to this host's IPv4 address on the LAN interface")
            }
            guard (1...65535).contains(discoverPort) else {
                throw ValidationError("\(origin("discover-port")) must be between 1 and 65535")
            }
        }
    }
}

