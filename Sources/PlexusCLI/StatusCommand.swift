import ArgumentParser
import Foundation
import PlexusHTTP
import PlexusOverlay

/// `plexus status`: the members the local relay sees, from its HTTP endpoint (`GET /v1/status`).
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the overlay members the local relay sees (node, state, addresses, zone, clusters, topics)."
    )

    @OptionGroup var endpoint: EndpointOptions

    @Flag(help: "Print the relay's JSON document instead of a table.")
    var json = false

    func run() async throws {
        let response = try await endpoint.get("/v1/status", command: "status")
        guard response.status == 200 else {
            FileHandleOutput.error("plexus status: \(endpoint.described) answered \(response.status): \(response.text)")
            throw ExitCode.failure
        }
        let body = response.body
        if json {
            FileHandle.standardOutput.write(Data(body))
            return
        }
        let status = try JSONDecoder().decode(OverlayStatus.self, from: Data(body))
        let extra = try? JSONDecoder().decode(StatusHeadline.self, from: Data(body))
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
        if let extra {
            print("plexus \(extra.version): \(extra.ready ? "ready" : "not ready (\(extra.reason ?? "unknown"))"), up \(Int(extra.uptimeSeconds)) s")
        }
        let c = status.counters
        for line in (try? JSONDecoder().decode(ProtectionHeadline.self, from: Data(body)))?.protection?.lines ?? [] {
            print(line)
        }
        for line in (try? JSONDecoder().decode(FederationHeadline.self, from: Data(body)))?.federation?.lines ?? [] {
            print(line)
        }
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


/// The fields of `/v1/status` beyond `OverlayStatus`.
private struct StatusHeadline: Decodable {
    var version: String
    var ready: Bool
    var reason: String?
    var uptimeSeconds: Double
}
