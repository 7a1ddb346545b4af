import ArgumentParser

/// The federation flags of `plexus relay` (`Docs/federation.md`). Each also has its `PLEXUS_*`
/// variable and config-file key (`GatewayOptions`, which checks the layered result). A relay is
/// a gateway when `--gateway-port` is given.
struct GatewayFlags: ParsableArguments {
    @Option(help: "Name of this relay's overlay, shown in status and sent to other overlays (a-z 0-9 . _ -, ≤ 64 bytes). Default: overlay-<network key fingerprint>.")
    var overlay: String?

    @Option(help: "Make this relay a gateway to other overlays: the TCP port it listens on for gateway links. See Docs/federation.md.")
    var gatewayPort: Int?

    @Option(help: "Address the gateway listener binds. Default: --peer-host, else 0.0.0.0 (127.0.0.1 with --dev).")
    var gatewayHost: String?

    @Option(name: .customLong("gateway-join"), help: "HOST:PORT of a gateway of another overlay to link to (repeatable; DNS names allowed; redialled every second while unlinked).")
    var gatewayJoins: [String] = []

    @Option(help: "Federation key file (from `plexus keygen`), shared by every gateway of the federation; distinct from any network key. Required with --gateway-port.")
    var federationKey: String?

    @Option(name: .customLong("accept-federation-key"), help: "An older federation key file still accepted during rotation (repeatable).")
    var acceptFederationKeys: [String] = []

    /// `HOST:PORT` (IPv6 as `[ADDR]:PORT`) split, or nil.
    static func parseTarget(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }
}
