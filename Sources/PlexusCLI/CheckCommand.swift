import ArgumentParser
import Foundation

/// `plexus check`: for scripts. Exit 0 when the local relay is healthy and ready; 1 with the
/// reason when it answers but is not ready (joining, draining); 2 when it cannot be reached.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Exit 0 if the local relay is healthy and ready; otherwise print why and exit 1 (not ready) or 2 (unreachable)."
    )

    @OptionGroup var endpoint: EndpointOptions

    func run() async throws {
        let health = try await endpoint.get("/healthz", command: "check", unreachableExitCode: 2)
        guard health.status == 200 else {
            FileHandleOutput.error("plexus check: not healthy (\(health.status)): \(reason(health.body))")
            throw ExitCode.failure
        }
        let ready = try await endpoint.get("/readyz", command: "check", unreachableExitCode: 2)
        guard ready.status == 200 else {
            FileHandleOutput.error("plexus check: not ready (\(ready.status)): \(reason(ready.body))")
            throw ExitCode.failure
        }
        print("ok: healthy and ready")
    }

    private func reason(_ body: [UInt8]) -> String {
        let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        return (object?["reason"] as? String) ?? (object?["error"] as? String) ?? String(decoding: body, as: UTF8.self)
    }
}
