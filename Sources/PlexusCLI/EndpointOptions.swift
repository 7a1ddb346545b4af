import ArgumentParser
import Foundation
import PlexusHTTP

/// Where the local relay's HTTP endpoint is, for `plexus status` and `plexus check`.
struct EndpointOptions: ParsableArguments {
    @Option(help: "The relay's HTTP endpoint, HOST:PORT (as given to `plexus relay --http`).")
    var http: String = "127.0.0.1:55580"

    @Option(help: .hidden)
    var adminPort: Int?

    @Option(help: "The relay's token file (its --http-token-file). Default: PLEXUS_HTTP_TOKEN_FILE, else DATA_DIR/http.token with --data-dir, else ~/.plexus/http-PORT.token.")
    var httpTokenFile: String?

    @Option(help: "The relay's data directory, where its token file is by default.")
    var dataDir: String?

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

    /// Where the relay's token is looked for.
    func tokenPath(httpPort: Int) -> String {
        httpTokenFile ?? ProcessInfo.processInfo.environment["PLEXUS_HTTP_TOKEN_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? HTTPAccessToken.defaultPath(dataDirectory: dataDir, httpPort: httpPort)
    }

    /// GETs `path`, with the relay's token when its file is there; an unreachable relay prints a
    /// message naming the endpoint and exits with `unreachableExitCode`; a 401 names the token file.
    func get(_ path: String, command: String, unreachableExitCode: Int32 = 1) async throws -> HTTPClientResponse {
        let address = try self.address
        guard case .address(_, let port) = address, let host = address.connectHost else { throw ExitCode(unreachableExitCode) }
        let tokenPath = tokenPath(httpPort: port)
        var headers: [String: String] = [:]
        do {
            if let token = try HTTPAccessToken.read(tokenPath) { headers["Authorization"] = "Bearer \(token.text)" }
        } catch {
            FileHandleOutput.error("plexus \(command): \(error)")
        }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.get(host: host, port: port, path: path, headers: headers,
                                                timeout: .nanoseconds(Int64(timeout * 1_000_000_000)))
        } catch {
            FileHandleOutput.error("plexus \(command): cannot reach \(described) (is `plexus relay` running with this --http?): \(error)")
            throw ExitCode(unreachableExitCode)
        }
        if response.status == 401 {
            let presented = headers.isEmpty ? "no token file at \(tokenPath)" : "the token in \(tokenPath) was refused (an old file?)"
            FileHandleOutput.error("plexus \(command): \(described) needs the relay's token: \(presented); pass the relay's "
                                   + "--http-token-file or --data-dir, and run as the relay's user or root")
            throw ExitCode.failure
        }
        return response
    }
}
