import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import PlexusOverlay

/// `plexus status`: the members the local relay sees, from its loopback admin endpoint.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the overlay members the local relay sees (node, state, addresses, zone, clusters, topics)."
    )

    @Option(help: "Port of the local relay's admin endpoint (127.0.0.1).")
    var adminPort: Int = RelayCommand.defaultAdminPort

    @Flag(help: "Print the relay's JSON document instead of a table.")
    var json = false

    func run() async throws {
        let body: [UInt8]
        do {
            body = try await AdminClient.fetch(port: adminPort)
        } catch {
            FileHandleOutput.error("plexus status: cannot reach the relay's admin endpoint on 127.0.0.1:\(adminPort) (is `plexus relay` running with this --admin-port?): \(error)")
            throw ExitCode.failure
        }
        if json {
            FileHandle.standardOutput.write(Data(body + [0x0a]))
            return
        }
        let status = try JSONDecoder().decode(OverlayStatus.self, from: Data(body))
        var rows = [["NODE", "STATE", "ADDRESS", "ZONE", "CLUSTERS", "TOPICS"]]
        for member in status.members {
            rows.append([
                member.node + (member.isSelf ? " (self)" : ""), member.state, member.address,
                member.zone.isEmpty ? "-" : member.zone,
                member.clusters.isEmpty ? "-" : member.clusters.map { "\($0.name)(\($0.capacity))" }.joined(separator: ","),
                member.topics.isEmpty ? "-" : member.topics.joined(separator: ","),
            ])
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            let line = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
            print(line)
        }
        let c = status.counters
        if let relay = status.relay {
            print("relay: \(relay.connections) clients, \(relay.pendingRequests) requests at local services, \(relay.forwardedRequests) forwarded to other relays, \(relay.tunnels) tunnels, \(relay.peerSessions) relay sessions (\(relay.peerSessionFailures) failed), \(relay.queuedBytes) B queued to clients, \(relay.peerQueuedBytes) B queued to relays")
            func drops(_ label: String, _ table: [String: Int]) {
                guard !table.isEmpty else { return }
                print("\(label): " + table.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
            }
            drops("dropped broadcasts by cluster", relay.droppedBroadcasts)
            drops("dropped events by topic", relay.droppedEvents)
            drops("overloaded requests by cluster", relay.overloadedRequests)
        }
        print("datagrams sent \(c.datagramsSent) received \(c.datagramsReceived); dropped: authentication \(c.droppedAuthentication), stale \(c.droppedStale), replayed \(c.droppedReplayed), malformed \(c.droppedMalformed); stream failures \(c.streamFailures + c.streamSendFailures), join failures \(c.joinFailures)")
    }
}

/// Reads the admin endpoint's one JSON document (the relay closes after writing it).
enum AdminClient {
    static func fetch(port: Int, timeout: TimeAmount = .seconds(5)) async throws -> [UInt8] {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: [UInt8].self)
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Collector(promise: promise))
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
        } catch {
            promise.fail(error) // never leave the promise pending
            throw error
        }
        let timer = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        defer { timer.cancel() }
        return try await promise.futureResult.get()
    }

    final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<[UInt8]>
        var bytes: [UInt8] = []
        var completed = false
        init(promise: EventLoopPromise<[UInt8]>) { self.promise = promise }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            bytes.append(contentsOf: unwrapInboundIn(data).readableBytesView)
        }
        func channelInactive(context: ChannelHandlerContext) {
            guard !completed else { return }
            completed = true
            if bytes.isEmpty { promise.fail(ChannelError.eof) } else { promise.succeed(bytes) }
        }
        func errorCaught(context: ChannelHandlerContext, error: Error) {
            if !completed { completed = true; promise.fail(error) }
            context.close(promise: nil)
        }
    }
}
