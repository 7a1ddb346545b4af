// plexus-example-file-transfer serve DIRECTORY   — receive files into DIRECTORY (cluster "files")
// plexus-example-file-transfer send FILE         — send FILE through a tunnel, with a progress line
//
// A tunnel is ordered and flow-controlled: the sender waits for the receiver's credit, so a
// slow disk on the receiving side slows the sender instead of filling memory.
import Foundation
import PlexusExampleSupport
import NIOCore
import Plexus

/// The first message of a transfer.
struct FileHeader: Codable, Sendable {
    var name: String
    var size: Int
}

let pieceSize = 256 * 1024
let options = ExampleOptions()
let coder = JSONMessageCoder()

/// Receives files: header, then pieces until `size` bytes, then answers "ok".
struct Receiver: ServiceHandler {
    let directory: URL

    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer {
        throw ServiceFault("open a tunnel to send a file")
    }

    func handleTunnel(_ tunnel: Tunnel) async {
        do {
            let header = try coder.decode(FileHeader.self, from: try await tunnel.receive(timeout: .seconds(10)))
            let name = URL(fileURLWithPath: header.name).lastPathComponent  // never outside the directory
            let path = directory.appendingPathComponent(name)
            guard FileManager.default.createFile(atPath: path.path, contents: nil) else {
                throw ServiceFault("cannot create \(path.path)")
            }
            let file = try FileHandle(forWritingTo: path)
            defer { try? file.close() }
            var received = 0
            while received < header.size {
                let piece = try await tunnel.receive(timeout: .seconds(30))
                file.write(Data(piece.readableBytesView))
                received += piece.readableBytes
            }
            try await tunnel.send("ok")
            print("received \(name) (\(received) bytes)")
        } catch {
            printError("transfer failed: \(error)")
        }
        try? await tunnel.close()
    }
}

func send(_ path: String) async throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    try await Connection.withConnection(host: options.host, port: options.port) { connection in
        let tunnel = try await connection.tunnel(to: "files", timeout: .seconds(5))
        try await tunnel.send(try coder.encode(FileHeader(name: path, size: data.count)))
        var sent = 0
        while sent < data.count {
            let end = min(sent + pieceSize, data.count)
            try await tunnel.send(ByteBuffer(bytes: data[sent..<end]), timeout: .seconds(30))
            sent = end
            let percent = data.isEmpty ? 100 : sent * 100 / data.count
            printError("\rsent \(sent / 1024) KiB of \(data.count / 1024) KiB (\(percent)%)", terminator: "")
        }
        printError("")
        let answer = try await tunnel.receive(timeout: .seconds(30))
        print("receiver says: \(String(buffer: answer))")
        try await tunnel.close()
    }
}

switch (options.arguments.first, options.arguments.dropFirst().first) {
case ("serve", let directory?):
    let service = try await Connection.register(
        cluster: "files", handler: Receiver(directory: URL(fileURLWithPath: directory)), host: options.host, port: options.port)
    print("receiving files into \(directory); Ctrl-C to stop")
    for await event in service.events() { printError("connection: \(event)") }
case ("send", let file?):
    try await send(file)
default:
    printError("usage: plexus-example-file-transfer serve DIRECTORY | send FILE [--host H] [--port P]")
    exit(2)
}
