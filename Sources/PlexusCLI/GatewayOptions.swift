import ArgumentParser
import PlexusSettings

/// The federation settings of `plexus relay` (`Docs/federation.md` §2), resolved like every other
/// setting: **flag > `PLEXUS_*` environment > `--config` file > default**. Keys are the long flag
/// names (`"gateway-port": 55560`, `PLEXUS_GATEWAY_PORT=55560`; lists are JSON arrays in the file
/// and comma-separated in the environment).
///
/// Guarantees: the combination is checked after layering (a federation key from the file and a
/// gateway port from a flag are one valid configuration), and every error names the flag and,
/// when the value did not come from the command line, where it came from.
struct GatewayOptions: Sendable, Equatable {
    var overlay: String?
    var gatewayPort: Int?
    var gatewayHost: String?
    var gatewayJoins: [String] = []
    var federationKey: String?
    var acceptFederationKeys: [String] = []

    /// The config-file keys of the federation flags and their kinds.
    static let kinds: [String: SettingKind] = [
        "overlay": .string, "gateway-port": .integer, "gateway-host": .string, "gateway-join": .list,
        "federation-key": .string, "accept-federation-key": .list,
    ]

    /// The federation flags' values as parsed (nothing given: all nil or empty).
    struct Flags: Sendable, Equatable {
        var overlay: String?
        var gatewayPort: Int?
        var gatewayHost: String?
        var gatewayJoins: [String] = []
        var federationKey: String?
        var acceptFederationKeys: [String] = []
    }

    /// Layers `flags` over `settings`; `origin` names a key's flag and its source for messages.
    static func resolve(_ flags: Flags, settings: LayeredSettings) throws -> GatewayOptions {
        func origin(_ key: String, given: Bool) -> String {
            guard !given, let source = settings.value(key, flag: nil)?.source else { return "--\(key)" }
            return "--\(key) (from \(source))"
        }
        var options = GatewayOptions()
        options.overlay = settings.string("overlay", flag: flags.overlay)
        options.gatewayPort = settings.integer("gateway-port", flag: flags.gatewayPort)
        options.gatewayHost = settings.string("gateway-host", flag: flags.gatewayHost)
        options.gatewayJoins = settings.list("gateway-join", flag: flags.gatewayJoins)
        options.federationKey = settings.string("federation-key", flag: flags.federationKey)
        options.acceptFederationKeys = settings.list("accept-federation-key", flag: flags.acceptFederationKeys)

        let port = origin("gateway-port", given: flags.gatewayPort != nil)
        if let gatewayPort = options.gatewayPort, !(0...65535).contains(gatewayPort) {
            throw ValidationError("\(port) must be between 0 and 65535")
        }
        if options.gatewayPort != nil, options.federationKey == nil {
            throw ValidationError("\(port) needs --federation-key FILE (the key every gateway of the federation shares)")
        }
        if options.gatewayPort == nil, !options.gatewayJoins.isEmpty || options.federationKey != nil {
            let what = options.federationKey != nil ? origin("federation-key", given: flags.federationKey != nil)
                : origin("gateway-join", given: !flags.gatewayJoins.isEmpty)
            throw ValidationError("\(what) needs --gateway-port (only gateways link overlays)")
        }
        for join in options.gatewayJoins where GatewayFlags.parseTarget(join) == nil {
            throw ValidationError("\(origin("gateway-join", given: !flags.gatewayJoins.isEmpty)) \(join): expected HOST:PORT")
        }
        if let overlay = options.overlay, overlay.isEmpty || overlay.utf8.count > 64
            || !overlay.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x5f || $0 == 0x2e }) {
            throw ValidationError("\(origin("overlay", given: flags.overlay != nil)) \(overlay): 1 to 64 characters of a-z, 0-9, '.', '_' and '-'")
        }
        return options
    }
}

extension GatewayFlags {
    /// What was given on the command line.
    var values: GatewayOptions.Flags {
        GatewayOptions.Flags(overlay: overlay, gatewayPort: gatewayPort, gatewayHost: gatewayHost, gatewayJoins: gatewayJoins,
                             federationKey: federationKey, acceptFederationKeys: acceptFederationKeys)
    }
}
