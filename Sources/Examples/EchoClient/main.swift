// plexus-example-echo-client [MESSAGE…]: sends each message to cluster "echo" and prints
// the reply, with the errors an application should expect spelled out.
import PlexusExampleSupport
import Plexus

let options = ExampleOptions()
let messages = options.arguments.isEmpty ? ["hello"] : options.arguments
do {
    try await Connection.withConnection(host: options.host, port: options.port) { connection in
        for message in messages {
            do {
                let reply = try await connection.request(message, to: "echo", timeout: .seconds(2))
                print(reply)
            } catch PlexusError.noMembers {
                printError("nobody serves \"echo\": start plexus-example-echo-service first")
            } catch PlexusError.timedOut {
                printError("no reply within 2 s")
            }
        }
    }
} catch let error as PlexusError {
    printError("\(error)")
}
