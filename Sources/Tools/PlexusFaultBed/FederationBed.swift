import Foundation
import PlexusProcesses

/// Federation on the fault bed (`Docs/federation.md`): relays of several overlays (each its own
/// network key) in their own namespaces on the one bridge, gateways linked with a federation key,
/// optionally through `plexus-delay-proxy` (a userspace TCP delay proxy run inside the dialing
/// gateway's namespace, since the kernel has no netem).
extension FaultBed {
    /// The gateway port of every relay started as a gateway (namespaces have their own ports).
    public static let gatewayPort = 41_301
    /// First local port of delay proxies (one per proxied link, in the dialer's namespace).
    public static let proxyBasePort = 41_401

    /// Writes a new key file (`plexus keygen`) named `name` in the bed's directory.
    public func makeKey(_ name: String) throws -> String {
        let path = processes.path(name)
        let keygen = try processes.run(["keygen", "--out", path])
        guard keygen.status == 0 else { throw FaultBedError.commandFailed("plexus keygen") }
        return path
    }

    /// One relay of a federated bed: its overlay's network key and name, the relays of its
    /// overlay it joins, and, for a gateway, the federation key and the gateways it links to
    /// (each possibly through a delay proxy of `delayMilliseconds` one way).
    public struct FederatedRelay {
        public var key: String
        public var overlay: String
        public var join: [Int]
        public var federationKey: String?
        public var gatewayJoins: [Int]
        public var delayMilliseconds: Int

        public init(key: String, overlay: String, join: [Int] = [], federationKey: String? = nil, gatewayJoins: [Int] = [],
                    delayMilliseconds: Int = 0) {
            self.key = key
            self.overlay = overlay
            self.join = join
            self.federationKey = federationKey
            self.gatewayJoins = gatewayJoins
            self.delayMilliseconds = delayMilliseconds
        }
    }

    /// Starts relay `index` as `spec` says; delay proxies it needs are started first.
    public func startFederated(_ index: Int, _ spec: FederatedRelay) throws {
        let relay = relays[index]
        var arguments = ["relay", "--key", spec.key, "--overlay", spec.overlay, "--data-dir", processes.path("data-\(relay.name)"),
                         "--port", "\(FaultBedRelay.clientPort)", "--peer-port", "\(FaultBedRelay.peerPort)",
                         "--peer-host", relay.address, "--advertise", relay.address,
                         "--admin-port", "\(FaultBedRelay.adminPort)", "--zone", "zone-\(relay.name)"]
        for seed in spec.join where seed != index { arguments += ["--join", "\(relays[seed].address):\(FaultBedRelay.peerPort)"] }
        if let federationKey = spec.federationKey {
            arguments += ["--gateway-port", "\(Self.gatewayPort)", "--federation-key", federationKey]
            for (position, target) in spec.gatewayJoins.enumerated() {
                let address = "\(relays[target].address):\(Self.gatewayPort)"
                if spec.delayMilliseconds > 0 {
                    let local = "127.0.0.1:\(Self.proxyBasePort + position)"
                    try startHelper(in: index, delayProxyBinary, [local, address, "\(spec.delayMilliseconds)"],
                                    output: "proxy-\(relay.name)-\(position).txt")
                    guard waitUntil(5, { helperOutput("proxy-\(relay.name)-\(position).txt").contains("plexus-delay-proxy") }) else {
                        throw FaultBedError.commandFailed("plexus-delay-proxy in \(relay.namespace)")
                    }
                    arguments += ["--gateway-join", local]
                } else {
                    arguments += ["--gateway-join", address]
                }
            }
        }
        try processes.start(relay.name, arguments, namespace: relay.namespace)
    }

    /// The delay proxy (target `PlexusDelayProxy`), built next to `plexus`.
    public var delayProxyBinary: String {
        URL(fileURLWithPath: processes.binary).deletingLastPathComponent().appendingPathComponent("PlexusDelayProxy").path
    }

    /// Runs `plexus ARGUMENTS --port <client port>` in relay `index`'s namespace to completion
    /// (bounded by `timeout` seconds): its exit status and standard output.
    public func client(on index: Int, _ arguments: [String], timeout: Double = 10) throws -> (status: Int32, output: String) {
        let result = try processes.run(arguments + ["--port", "\(FaultBedRelay.clientPort)"], timeout: timeout,
                                       namespace: relays[index].namespace)
        return (result.status, String(decoding: result.output, as: UTF8.self))
    }

    /// Starts a long-running client (`plexus serve …`, `plexus subscribe …`) on relay `index`;
    /// its standard output goes to `output`.
    public func startClient(on index: Int, _ arguments: [String], output: String) throws {
        try startHelper(in: index, processes.binary, arguments + ["--port", "\(FaultBedRelay.clientPort)"], output: output)
    }
}
