import ArgumentParser
import Logging
import Plexus
import ServiceLifecycle

/// `plexus subscribe TOPIC`: prints every event of a topic, one per line, until interrupted.
struct SubscribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subscribe",
        abstract: "Print the events published to a topic until interrupted."
    )

    @Argument(help: "The topic.") var topic: String
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let logger = Logs.bootstrap(options.logLevel.level, label: "plexus.subscribe")
        let tap = TopicTap(topic: topic, host: options.host, port: options.port, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: tap)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Subscribes, prints events until graceful shutdown, then closes the connection.
struct TopicTap: Service {
    let topic: String
    let host: String
    let port: Int
    let logger: Logger

    func run() async throws {
        let connection = try await Connection.connect(host: host, port: port, logger: logger)
        let events = try await connection.subscribe(to: topic)
        await withGracefulShutdownHandler {
            var iterator = events.makeAsyncIterator(); while let event = try? await iterator.next() { Payload.write(event) }
        } onGracefulShutdown: {
            Task { try? await connection.close() }
        }
        try? await connection.close()
    }
}
