import ArgumentParser
import Plexus

/// `plexus request CLUSTER DATA`: sends one request and prints the reply.
struct RequestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request",
        abstract: "Send a request to one member of a cluster and print its reply."
    )

    @Argument(help: "The cluster to ask.") var cluster: String
    @Argument(help: "The request payload (\"-\" reads standard input).") var data: String
    @Option(help: "Milliseconds to wait for the reply.") var timeout: Int = 5000
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let timeout = try positiveMilliseconds(timeout, option: "timeout")
        try await options.withConnection(label: "plexus.request") { connection in
            do {
                let reply = try await connection.request(Payload.from(argument: data), to: cluster, timeout: timeout)
                Payload.write(reply)
            } catch {
                throw RequestFailure(error)
            }
        }
    }
}

/// A failed request, with an exit code that says what went wrong: 3 timed out, 4 remote fault,
/// 5 no members (no member of the cluster could take it), 6 refused by the relay (draining,
/// overloaded, a limit), 1 anything else (connection refused, closed, invalid argument).
struct RequestFailure: Error, CustomStringConvertible {
    let description: String
    let exitCode: ExitCode
    /// The command named in the message (`plexus request: ...`).
    var command = "request"

    init(_ error: any Error, command: String = "request") {
        self.command = command
        switch error as? PlexusError {
        case .timedOut?:
            description = "timed out: no reply within the timeout (is a member of the cluster running?)"
            exitCode = ExitCode(3)
        case .remoteFault(let text)?:
            description = "remote fault: \(text)"
            exitCode = ExitCode(4)
        case .noMembers?:
            description = "\(error)"
            exitCode = ExitCode(5)
        case .refused?:
            description = "\(error)"
            exitCode = ExitCode(6)
        default:
            description = "\(error)"
            exitCode = .failure
        }
    }
}

/// `plexus broadcast CLUSTER DATA`: delivers a message to every member of a cluster.
struct BroadcastCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broadcast",
        abstract: "Send a message to every member of a cluster."
    )

    @Argument(help: "The cluster.") var cluster: String
    @Argument(help: "The message (\"-\" reads standard input).") var data: String
    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await options.withConnection(label: "plexus.broadcast") { connection in
            try await connection.broadcast(Payload.from(argument: data), to: cluster)
        }
    }
}

/// `plexus publish TOPIC DATA`: publishes one event.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish an event to every subscriber of a topic."
    )

    @Argument(help: "The topic.") var topic: String
    @Argument(help: "The event (\"-\" reads standard input).") var data: String
    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await options.withConnection(label: "plexus.publish") { connection in
            try await connection.publish(Payload.from(argument: data), to: topic)
        }
    }
}
