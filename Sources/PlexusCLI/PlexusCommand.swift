import ArgumentParser

/// The `plexus` tool: the relay daemon and the commands a person uses against the local relay.
@main
struct PlexusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plexus",
        abstract: "Plexus: a service-addressed messaging overlay. Run a relay, or talk to the local one.",
        version: PlexusVersion.current,
        subcommands: [
            RelayCommand.self, StatusCommand.self, CheckCommand.self, RequestCommand.self, BroadcastCommand.self, PublishCommand.self,
            SubscribeCommand.self, ServeCommand.self, TunnelCommand.self, KeygenCommand.self,
        ]
    )

    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as RelayStartupError {
            FileHandleOutput.error("plexus relay: \(failure.description)")
            exit(withError: ExitCode.failure)
        } catch let failure as RequestFailure {
            FileHandleOutput.error("plexus \(failure.command): \(failure.description)")
            exit(withError: failure.exitCode)
        } catch {
            exit(withError: error)
        }
    }
}
