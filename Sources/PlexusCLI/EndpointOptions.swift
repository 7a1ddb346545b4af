import ArgumentParser
import PlexusHTTP

/// Where the local relay's HTTP endpoint is, for `plexus status` and `plexus check`.
struct EndpointOptions: ParsableArguments {
    @Option(help: "The relay's HTTP endpoint, HOST:PORT (as given to `plexus relay --http`).")
    var http: String = "127.0.0.1:55580"

    @Option(help: .hidden)
    var adminPort: Int?

    @Option(help: "Seconds to wait for the relay's answer.")
    var timeout: Double = 5

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        guard case .address = try address else { throw ValidationError("--http off: there is no endpoint to ask") }
    }

    /// `--http`, or the deprecated `--admin-port N` (= `--http 127.0.0.1:N`).
    var address: HTTPListenAddress {
        get throws {
            if let adminPort { return .address(host: "127.0.0.1", port: adminPort) }
            do { return try HTTPListenAddress.parse(http) } catch { throw ValidationError("--http \(error)") }
        }
    }

    var described: String {
        guard case .address(let host, let port) = try? address else { return "the relay's HTTP endpoint" }
        return "the relay's HTTP endpoint \(host.contains(":") ? "[\(host)]" : host):\(port)"
    }

    /// GETs `path`; an unreachable relay prints a message naming the endpoint and exits with
    /// `unreachableExitCode`.
    func get(_ path: String, command: String, unreachableExitCode: Int32 = 1) async throws -> HTTPClientResponse {
        let address = try self.address
        guard case .address(_, let port) = address, let host = address.connectHost else { throw ExitCode(unreachableExitCode) }
        do {
            return try await HTTPClient.get(host: host, port: port, path: path,
                                            timeout: .nanoseconds(Int64(timeout * 1_000_000_000)))
        } catch {
            FileHandleOutput.error("plexus \(command): cannot reach \(described) (is `plexus relay` running with this --http?): \(error)")
            throw ExitCode(unreachableExitCode)
        }
    }
}
