import ArgumentParser
import Logging
import NIOCore
import Plexus
import ServiceLifecycle

/// `plexus serve CLUSTER --echo | --exec CMD`: joins a cluster and answers its requests.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Join a cluster as a service and answer its requests until interrupted.",
        discussion: """
            --echo answers every request with its own payload, and sends every tunnel message back \
            on its tunnel. --exec CMD runs CMD with /bin/sh for \
            each request, with the request on standard input, and answers with its standard output; \
            a non-zero exit answers with a remote fault carrying its standard error.
            """
    )

    @Argument(help: "The cluster to join.") var cluster: String
    @Flag(help: "Answer each request with its own payload.") var echo = false
    @Option(name: .customLong("exec"), help: "Shell command that answers each request.") var command: String?
    @Flag(help: "Print each broadcast the service receives.") var printBroadcasts = false
    @OptionGroup var options: ClientOptions

    func validate() throws {
        guard echo != (command != nil) else { throw ValidationError("give exactly one of --echo or --exec CMD") }
        guard !cluster.isEmpty else { throw ValidationError("the cluster name must not be empty") }
    }

    func run() async throws {
        let logger = Logs.bootstrap(options.logLevel.level, label: "plexus.serve")
        let answer: RequestAnswer = command.map { .command($0) } ?? .echo
        let service = ClusterService(
            cluster: cluster, handler: AnsweringHandler(answer: answer, printBroadcasts: printBroadcasts, logger: logger),
            host: options.host, port: options.port, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// How `serve` answers a request.
enum RequestAnswer: Sendable {
    case echo
    case command(String)
}

/// The service handler behind `plexus serve`.
struct AnsweringHandler: ServiceHandler {
    let answer: RequestAnswer
    let printBroadcasts: Bool
    let logger: Logger

    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer {
        switch answer {
        case .echo:
            return request
        case .command(let command):
            return try await ShellCommand.run(command, input: request)
        }
    }

    func handleBroadcast(_ message: ByteBuffer) async {
        if printBroadcasts { Payload.write(message) }
    }

    /// `--echo`: every message is sent back on the tunnel until the other end closes it.
    func handleTunnel(_ tunnel: Tunnel) async {
        guard case .echo = answer else {
            try? await tunnel.close()
            return
        }
        while let message = try? await tunnel.receive() {
            do { try await tunnel.send(message) } catch { break }
        }
        try? await tunnel.close()
    }

    func handleDrop(reason: String) async {
        logger.error("the relay dropped this service", metadata: ["reason": "\(reason)"])
    }
}

/// Registers the service, keeps it until graceful shutdown, then closes it.
struct ClusterService: Service {
    let cluster: String
    let handler: AnsweringHandler
    let host: String
    let port: Int
    let logger: Logger

    func run() async throws {
        let connection = try await Connection.register(cluster: cluster, handler: handler, host: host, port: port, logger: logger)
        logger.notice("serving", metadata: ["cluster": "\(cluster)"])
        try? await gracefulShutdown()
        try await connection.close()
    }
}
