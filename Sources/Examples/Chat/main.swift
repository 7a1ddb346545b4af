// plexus-example-chat NAME [ROOM]: a chat over publish/subscribe. Every line typed is
// published (as JSON) on topic "chat.ROOM"; every message on it is printed. Run it in two
// terminals. Ctrl-D leaves.
import Foundation
import PlexusExampleSupport
import Plexus

struct ChatMessage: Codable, Sendable {
    var from: String
    var text: String
}

let options = ExampleOptions()
guard let name = options.arguments.first else {
    printError("usage: plexus-example-chat NAME [ROOM] [--host H] [--port P]")
    exit(2)
}
let topic = "chat." + (options.arguments.dropFirst().first ?? "lobby")

/// Lines of standard input, read on a thread of their own (reading blocks).
func standardInputLines() -> AsyncStream<String> {
    let (lines, continuation) = AsyncStream<String>.makeStream()
    Thread.detachNewThread {
        while let line = readLine() { continuation.yield(line) }
        continuation.finish()
    }
    return lines
}

try await Connection.withConnection(host: options.host, port: options.port) { connection in
    let messages = try await connection.subscribe(to: topic)
    let printer = Task {
        do {
            for try await message in messages.decoded(as: ChatMessage.self) where message.from != name {
                print("\(message.from): \(message.text)")
            }
        } catch {
            printError("chat ended: \(error)")
        }
    }
    printError("joined \(topic) as \(name); type a line to send it, Ctrl-D to leave")
    for await line in standardInputLines() where !line.isEmpty {
        do {
            try await connection.publish(ChatMessage(from: name, text: line), to: topic)
        } catch PlexusError.connectionLost(let reason) {
            printError("not sent (\(reason)); the binding is reconnecting, try again")
        }
    }
    await messages.unsubscribe()
    await printer.value
}
