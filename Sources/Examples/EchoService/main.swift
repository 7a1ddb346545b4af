// plexus-example-echo-service: a member of cluster "echo" that answers every request with
// its own bytes. Start a relay (`scripts/run.sh`), then this, then
// `plexus-example-echo-client hello`. Restart the relay: the service comes back by itself.
import PlexusExampleSupport
import NIOCore
import Plexus

struct Echo: ServiceHandler {
    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer { request }
}

let options = ExampleOptions()
let service = try await Connection.register(cluster: "echo", handler: Echo(), host: options.host, port: options.port)
print("echo service registered on \(options.host):\(options.port); Ctrl-C to stop")
// The connection's state changes, until it closes (reconnects are reported and handled).
for await event in service.events() {
    printError("connection: \(event)")
}
