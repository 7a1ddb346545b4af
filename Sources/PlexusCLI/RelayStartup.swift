import Foundation
import Logging
import NIOCore
import NIOPosix
import PlexusHTTP
import PlexusNode
import PlexusOverlay
import PlexusRelay

/// The ports a relay binds, with the flags that set them (for error messages).
struct RelayBindings: Sendable {
    var port: Int
    var peerHost: String
    var peerPort: Int
    var http: HTTPListenAddress
    /// nil: the endpoint is open to every local user (`--http-auth off`).
    var httpToken: HTTPTokenSetting?
}

/// `--http-auth token`: where the token goes (`--http-token-file`, else the default for the data directory).
struct HTTPTokenSetting: Sendable {
    var explicitPath: String?
    var dataDirectory: String?

    func path(httpPort: Int) -> String {
        explicitPath ?? HTTPAccessToken.defaultPath(dataDirectory: dataDirectory, httpPort: httpPort)
    }
}

/// A relay that could not start, with a message naming the flag to change.
struct RelayStartupError: Error, CustomStringConvertible {
    let description: String
}

/// Starts the relay node, LAN discovery and the HTTP endpoint; a bind failure becomes a message
/// that names the flag and the port (`--port 55555: address already in use; ...`).
enum RelayStartup {
    static func start(relay: RelayConfiguration, overlay: OverlayConfiguration, discovery: DiscoveryConfiguration?,
                      bindings: RelayBindings, lifecycle: RelayLifecycleState, logger: Logger) async throws
        -> (node: RelayNode, http: HTTPEndpoint?, tokenFile: (path: String, token: HTTPAccessToken)?) {
        // A token file others can read is refused before anything starts.
        if let setting = bindings.httpToken, case .address(_, let port) = bindings.http, setting.explicitPath != nil || port != 0 {
            do { try HTTPAccessToken.checkReplaceable(setting.path(httpPort: port)) } catch {
                throw RelayStartupError(description: "--http-token-file \(error)")
            }
        }
        let node: RelayNode
        do {
            node = try await RelayNode.start(relay: relay, overlay: overlay)
        } catch {
            throw await explain(error, bindings: bindings)
        }
        let missing = relay.hosts.filter { host in !node.relay.boundAddresses.contains { $0.hasPrefix(host.contains(":") ? "[\(host)]" : "\(host):") } }
        if !missing.isEmpty {
            logger.warning("client endpoint listens only on \(node.relay.boundAddresses.joined(separator: " and ")); binding \(missing.joined(separator: " and ")) port \(node.relay.port) failed, so clients using that address cannot connect")
        }
        if let discovery {
            do {
                try await node.overlay.startDiscovery(discovery)
                logger.info("LAN discovery on", metadata: ["group": "\(discovery.group):\(discovery.port)",
                                                        "interface": "\(discovery.interfaceAddress)"])
            } catch {
                await node.stopAbruptly()
                throw RelayStartupError(description: "--discover-port \(discovery.port): cannot start LAN discovery: \(error)")
            }
        }
        var http: HTTPEndpoint?
        var tokenFile: (path: String, token: HTTPAccessToken)?
        if case .address(let host, let port) = bindings.http {
            let source = StatusSource.relay(node, lifecycle: lifecycle, version: PlexusVersion.current)
            let token = bindings.httpToken.map { _ in HTTPAccessToken.generate() }
            do {
                http = try await HTTPEndpoint.start(host: host, port: port, source: source, access: token?.access ?? .open,
                                                    logger: logger)
            } catch {
                await node.stopAbruptly()
                let flag = "--http \(host.contains(":") ? "[\(host)]" : host):\(port)"
                if isAddressInUse(error) {
                    throw RelayStartupError(description: "\(flag): address already in use; is another relay running? try --http HOST:PORT, or --http off")
                }
                throw RelayStartupError(description: "\(flag): cannot listen: \(error)")
            }
            if let setting = bindings.httpToken, let token, let endpoint = http {
                let path = setting.path(httpPort: endpoint.port)
                do {
                    try HTTPAccessToken.write(token, to: path)
                } catch {
                    await endpoint.close()
                    await node.stopAbruptly()
                    throw RelayStartupError(description: "--http-token-file \(error)")
                }
                tokenFile = (path, token)
                logger.info("HTTP endpoint token written", metadata: ["file": "\(path)"])
            } else {
                logger.notice("--http-auth off: every local user can read the HTTP endpoint's status and metrics")
            }
        }
        lifecycle.setServing(true)
        return (node, http, tokenFile)
    }

    static func isAddressInUse(_ error: Error) -> Bool {
        (error as? IOError)?.errnoCode == EADDRINUSE
    }

    /// Names the flag whose port could not be bound: the client port is probed on loopback, the
    /// peer port on the peer host (TCP and UDP).
    static func explain(_ error: Error, bindings: RelayBindings) async -> Error {
        guard let ioError = error as? IOError, ioError.errnoCode == EADDRINUSE || ioError.errnoCode == EADDRNOTAVAIL
            || ioError.errnoCode == EACCES else { return error }
        let problem = ioError.errnoCode == EADDRINUSE ? "address already in use"
            : ioError.errnoCode == EACCES ? "permission denied" : "address not available on this host"
        if await !canBind(host: "127.0.0.1", port: bindings.port, udp: false) {
            return RelayStartupError(description: "--port \(bindings.port): \(problem); is another relay running? try --port")
        }
        if bindings.peerPort != 0 {
            let tcp = await canBind(host: bindings.peerHost, port: bindings.peerPort, udp: false)
            let udp = await canBind(host: bindings.peerHost, port: bindings.peerPort, udp: true)
            if !tcp || !udp {
                let which = !tcp && !udp ? "TCP and UDP" : (!tcp ? "TCP" : "UDP")
                return RelayStartupError(description: "--peer-port \(bindings.peerPort) (\(which) on --peer-host \(bindings.peerHost)): \(problem); is another relay running? try --peer-port")
            }
        }
        return RelayStartupError(description: "cannot bind a relay socket: \(problem) (\(error))")
    }

    /// Whether `host:port` can be bound right now (the probe socket is closed at once).
    static func canBind(host: String, port: Int, udp: Bool) async -> Bool {
        do {
            let channel: Channel = udp
                ? try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: host, port: port).get()
                : try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1).bind(host: host, port: port).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }
}

/// The version `plexus --version` prints and `/v1/status` reports.
enum PlexusVersion {
    static let current = "0.13.0-dev"
}
