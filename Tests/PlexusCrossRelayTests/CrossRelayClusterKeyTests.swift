#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Plexus
import PlexusCrypto
import PlexusProcesses
import XCTest

/// Per-cluster keys with real `plexus relay` processes (`Docs/cluster-keys.md`): only relays that
/// prove they hold a cluster's (topic's) key get its traffic; clients of a relay without the key
/// are refused at once; a key rotation through SIGHUP loses nothing.
final class CrossRelayClusterKeyTests: XCTestCase {
    /// What this test reads of a relay's `/v1/status`.
    struct ProtectionProbe: Decodable {
        struct Protection: Decodable {
            var proven: [String]
            var unprovenDirectoryEntries: Int
            var sealed: Int
            var opened: Int
            var openFailures: Int
        }
        var node: String
        var protection: Protection?
    }

    static func protection(_ processes: RelayProcesses, _ relay: RelaySpec) -> ProtectionProbe? {
        var arguments = ["status", "--json", "--http", "127.0.0.1:\(relay.adminPort)"]
        if let file = processes.tokenFile(adminPort: relay.adminPort) { arguments += ["--http-token-file", file] }
        guard let result = try? processes.run(arguments, timeout: 5),
              result.status == 0 else { return nil }
        return try? JSONDecoder().decode(ProtectionProbe.self, from: result.output)
    }

    func keygen(_ processes: RelayProcesses, _ name: String) throws -> String {
        let path = processes.path(name)
        guard try processes.run(["keygen", "--out", path]).status == 0 else { throw Failure("keygen \(name) failed") }
        return path
    }

    func start(_ processes: RelayProcesses, _ relay: RelaySpec, key: String, join: [RelaySpec], extra: [String]) throws {
        let dataDirectory = processes.path("data-\(relay.name)")
        processes.setTokenFile(RelaySpec.tokenFile(dataDirectory: dataDirectory), adminPort: relay.adminPort)
        try processes.start(relay.name, relay.arguments(key: key, dataDirectory: dataDirectory, join: join) + extra)
    }

    /// Waits until `relay` verified the claims of every relay in `nodes` for `name` (a line of its
    /// `proven` list names the node, the name and, if given, the key fingerprint).
    func waitUntilProven(_ processes: RelayProcesses, at relay: RelaySpec, nodes: [String], name: String,
                         fingerprint: String? = nil, timeout: Duration = .seconds(20)) async -> Bool {
        await eventually(within: timeout, every: .milliseconds(100)) {
            let proven = Self.protection(processes, relay)?.protection?.proven ?? []
            return nodes.allSatisfy { node in
                proven.contains { $0.hasPrefix(node) && $0.contains("\"\(name)\"") && (fingerprint.map($0.hasSuffix) ?? true) }
            }
        }
    }

    // MARK: Who takes part

    /// A, B, C hold the key; D holds only the network key and has a member and a subscriber of the
    /// names (they registered before anyone claimed them); E holds a different key for the same
    /// names. Requests, broadcasts, events and tunnels from A reach only B and C; D's clients are
    /// refused at once.
    func testOnlyRelaysProvingTheKeyTakePartAndOthersAreRefused() async throws {
        let processes = try RelayProcesses(prefix: "plexus-clusterkeys")
        defer { processes.cleanUp() }
        let network = try keygen(processes, "network.key")
        let clusterKey = try keygen(processes, "billing.key"), topicKey = try keygen(processes, "news.key")
        let otherCluster = try keygen(processes, "billing-other.key"), otherTopic = try keygen(processes, "news-other.key")
        let cluster = unique("billing"), topic = unique("news")
        let keyed = ["--cluster-key", "\(cluster)=\(clusterKey)", "--topic-key", "\(topic)=\(topicKey)"]
        let wrong = ["--cluster-key", "\(cluster)=\(otherCluster)", "--topic-key", "\(topic)=\(otherTopic)"]

        let d = RelaySpec(name: "D")
        try start(processes, d, key: network, join: [], extra: [])
        let dUp = await eventually(within: .seconds(15), every: .milliseconds(100)) { processes.status(adminPort: d.adminPort) != nil }
        XCTAssertTrue(dUp, processes.log("D"))
        let dMember = Member("D")
        let dService = try await Connection.register(cluster: cluster, handler: dMember, port: d.clientPort)
        let dSubscriber = try await Connection.connect(port: d.clientPort)
        let dEvents = EventLog()
        let dSubscription = try await dSubscriber.subscribe(to: topic)
        let dReader = Task { for try await event in dSubscription { dEvents.append(String(buffer: event)) } }

        let a = RelaySpec(name: "A"), b = RelaySpec(name: "B"), c = RelaySpec(name: "C"), e = RelaySpec(name: "E")
        for relay in [a, b, c] { try start(processes, relay, key: network, join: [d], extra: keyed) }
        try start(processes, e, key: network, join: [d], extra: wrong)
        guard let nodes = processes.waitForOverlay([a, b, c, d, e], timeout: 30) else {
            throw Failure("no overlay: " + ["A", "B", "C", "D", "E"].map { processes.log($0) }.joined(separator: "\n"))
        }
        let members = ["B": Member("B"), "C": Member("C"), "E": Member("E")]
        var services: [Connection] = []
        for (name, relay) in [("B", b), ("C", c), ("E", e)] {
            services.append(try await Connection.register(cluster: cluster, handler: members[name]!, port: relay.clientPort))
        }
        var readers: [Task<Void, Error>] = []
        let events = ["B": EventLog(), "E": EventLog()]
        var subscribers: [Connection] = []
        for (name, relay) in [("B", b), ("E", e)] {
            let subscriber = try await Connection.connect(port: relay.clientPort)
            let subscription = try await subscriber.subscribe(to: topic)
            let log = events[name]!
            readers.append(Task { for try await event in subscription { log.append(String(buffer: event)) } })
            subscribers.append(subscriber)
        }
        let provenAtA = await waitUntilProven(processes, at: a, nodes: [nodes["B"]!, nodes["C"]!], name: cluster)
        XCTAssertTrue(provenAtA, "\(Self.protection(processes, a)?.protection?.proven ?? [])")
        let topicProven = await waitUntilProven(processes, at: a, nodes: [nodes["B"]!], name: topic)
        XCTAssertTrue(topicProven)
        // E's and D's entries are seen (E's member registered, D's from the start) but never proven.
        let unprovenSeen = await eventually(within: .seconds(15), every: .milliseconds(100)) {
            (Self.protection(processes, a)?.protection?.unprovenDirectoryEntries ?? 0) >= 4
        }
        XCTAssertTrue(unprovenSeen, "A skips D's and E's cluster and topic entries")

        let client = try await Connection.connect(port: a.clientPort)
        for index in 0..<200 {
            let reply = try await client.request("r\(index)", to: cluster, timeout: .seconds(5))
            XCTAssertTrue(reply == "B:r\(index)" || reply == "C:r\(index)", reply)
        }
        for index in 0..<20 { try await client.broadcast("b\(index)", to: cluster) }
        for index in 0..<50 { try await client.publish(ByteBuffer(string: "e\(index)"), to: topic) }
        for index in 0..<5 {
            let tunnel = try await client.tunnel(to: cluster, timeout: .seconds(5))
            try await tunnel.send("t\(index)")
            let echo = try await tunnel.receive(timeout: .seconds(5))
            XCTAssertEqual(String(buffer: echo), "t\(index)")
            try await tunnel.close()
        }
        let delivered = await eventually(within: .seconds(10), every: .milliseconds(20)) {
            members["B"]!.broadcasts.count == 20 && members["C"]!.broadcasts.count == 20 && events["B"]!.count == 50
        }
        XCTAssertTrue(delivered, "B \(members["B"]!.broadcasts.count), C \(members["C"]!.broadcasts.count), events \(events["B"]!.count)")
        XCTAssertEqual(events["B"]!.items, (0..<50).map { "e\($0)" }, "in order")
        XCTAssertEqual(members["B"]!.requests + members["C"]!.requests, 200)
        XCTAssertEqual(members["B"]!.tunnels + members["C"]!.tunnels, 5)
        // A last request round trip through B or C after everything else was sent: frames to D or E
        // would have been sent before it on the same sessions.
        _ = try await client.request("last", to: cluster, timeout: .seconds(5))
        for (name, member) in [("D", dMember), ("E", members["E"]!)] {
            XCTAssertEqual(member.requests, 0, "\(name) got requests")
            XCTAssertEqual(member.broadcasts, [], "\(name) got broadcasts")
            XCTAssertEqual(member.tunnels, 0, "\(name) got tunnels")
        }
        XCTAssertEqual(dEvents.count, 0, "D got events")
        XCTAssertEqual(events["E"]!.count, 0, "E got events")
        let sealed = Self.protection(processes, a)?.protection
        XCTAssertGreaterThanOrEqual(sealed?.sealed ?? 0, 200 + 20 + 50)
        XCTAssertEqual(sealed?.openFailures, 0)

        // D's clients: a new member of the cluster is denied, a request is refused at once.
        do {
            let denied = try await Connection.register(cluster: cluster, handler: Member("D2"), port: d.clientPort,
                                                       reconnect: .disabled)
            try? await denied.close()
            XCTFail("a member of a protected cluster registered on a relay without the key")
        } catch let error as PlexusError {
            guard case .refused(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("protected by a key this relay does not hold"), reason)
        }
        let dClient = try await Connection.connect(port: d.clientPort)
        let started = ContinuousClock.now
        do {
            _ = try await dClient.request("let me in", to: cluster, timeout: .seconds(5))
            XCTFail("a relay without the key forwarded a request")
        } catch let error as PlexusError {
            guard case .refused(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("\"\(cluster)\" is protected"), reason)
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(1), "refused at once, not timed out")

        dReader.cancel()
        for reader in readers { reader.cancel() }
        for connection in services + subscribers + [client, dClient, dService, dSubscriber] { try? await connection.close() }
    }

    // MARK: Options

    /// Bad key options stop `plexus relay` at once with a message naming the flag or the file and
    /// the fix; a good one starts it with the fingerprint (never the key) in its log.
    func testKeyOptionsAreCheckedAndKeysNeverLogged() throws {
        let processes = try RelayProcesses(prefix: "plexus-keyoptions")
        defer { processes.cleanUp() }
        let key = try keygen(processes, "billing.key")
        let loose = try keygen(processes, "loose.key")
        chmod(loose, 0o644)
        let cases: [(String, [String], String)] = [
            ("format", ["--cluster-key", "billing"], "--cluster-key billing: expected NAME=FILE"),
            ("loose", ["--topic-key", "news=\(loose)"], "run `chmod 600 \(loose)`"),
            ("missing", ["--cluster-key", "billing=\(processes.path("none.key"))"], "plexus keygen --out \(processes.path("none.key"))"),
            ("orphan", ["--accept-cluster-key", "billing=\(key)"], "has no primary key; add --cluster-key billing=FILE"),
        ]
        for (name, options, expected) in cases {
            try processes.start(name, ["relay", "--dev", "--port", "0", "--http", "off"] + options)
            processes.waitExit(name, timeout: 15)
            XCTAssertFalse(processes.isRunning(name), "\(name) kept running")
            XCTAssertTrue(processes.log(name).contains(expected), "\(name): \(processes.log(name))")
        }
        let relay = RelaySpec(name: "good")
        try start(processes, relay, key: try keygen(processes, "network.key"), join: [], extra: ["--cluster-key", "billing=\(key)"])
        let fingerprint = try ClusterKey.load(from: key).fingerprint.description
        let logged = waitUntil(15) { processes.log("good").contains("cluster \"billing\" key \(fingerprint)") }
        XCTAssertTrue(logged, processes.log("good"))
        let secret = try String(contentsOfFile: key, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertFalse(processes.log("good").contains(secret), "the key itself is never logged")
    }

    // MARK: Rotation

    /// Requests and a tunnel run without pause between A (client) and B (member) while the key is
    /// rotated through SIGHUP and the config file: accept the new key everywhere, switch the
    /// primary, retire the old key. Nothing is lost and nothing fails to open.
    func testRotationUnderLoadLosesNothing() async throws {
        let processes = try RelayProcesses(prefix: "plexus-rotation")
        defer { processes.cleanUp() }
        let network = try keygen(processes, "network.key")
        let old = try keygen(processes, "old.key"), new = try keygen(processes, "new.key")
        let oldPrint = try ClusterKey.load(from: old).fingerprint.description
        let newPrint = try ClusterKey.load(from: new).fingerprint.description
        let cluster = unique("rotating")
        let a = RelaySpec(name: "A"), b = RelaySpec(name: "B")
        func configure(_ relay: RelaySpec, primary: String, accepted: [String]) throws {
            let document: [String: Any] = ["cluster-key": ["\(cluster)=\(primary)"],
                                           "accept-cluster-key": accepted.map { "\(cluster)=\($0)" }]
            try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: processes.path("\(relay.name).json")))
        }
        try configure(a, primary: old, accepted: [])
        try configure(b, primary: old, accepted: [])
        try start(processes, a, key: network, join: [], extra: ["--config", processes.path("A.json")])
        try start(processes, b, key: network, join: [a], extra: ["--config", processes.path("B.json")])
        guard let nodes = processes.waitForOverlay([a, b], timeout: 20) else { throw Failure(processes.log("A") + processes.log("B")) }
        let member = Member("B")
        let service = try await Connection.register(cluster: cluster, handler: member, port: b.clientPort)
        let proven = await waitUntilProven(processes, at: a, nodes: [nodes["B"]!], name: cluster, fingerprint: oldPrint)
        XCTAssertTrue(proven)

        let client = try await Connection.connect(port: a.clientPort)
        let tunnel = try await client.tunnel(to: cluster, timeout: .seconds(5))
        let stop = NIOLockedValueBox(false)
        let echoed = NIOLockedValueBox(0)
        let requests = Task { () -> (ok: Int, failures: [String]) in
            var ok = 0, failures: [String] = []
            var index = 0
            while !stop.withLockedValue({ $0 }) && index < 1_000_000 {
                index += 1
                do {
                    let reply = try await client.request("q\(index)", to: cluster, timeout: .seconds(5))
                    if reply == "B:q\(index)" { ok += 1 } else { failures.append("wrong reply \(reply)") }
                } catch { failures.append("\(index): \(error)") }
            }
            return (ok, failures)
        }
        let echoes = Task { () -> (ok: Int, failures: [String]) in
            var ok = 0, failures: [String] = []
            var index = 0
            while !stop.withLockedValue({ $0 }) && index < 1_000_000 {
                index += 1
                do {
                    try await tunnel.send("m\(index)", timeout: .seconds(5))
                    let echo = String(buffer: try await tunnel.receive(timeout: .seconds(5)))
                    if echo == "m\(index)" { ok += 1 } else { failures.append("wrong echo \(echo)") }
                    echoed.withLockedValue { $0 += 1 }
                } catch { failures.append("tunnel \(index): \(error)"); break }
            }
            return (ok, failures)
        }

        var reloads = 0
        func reload(_ relay: RelaySpec, primary: String, accepted: [String]) async throws {
            try configure(relay, primary: primary, accepted: accepted)
            let before = processes.log(relay.name).components(separatedBy: "cluster keys reloaded").count
            processes.signal(relay.name, SIGHUP)
            let done = await eventually(within: .seconds(10), every: .milliseconds(20)) {
                processes.log(relay.name).components(separatedBy: "cluster keys reloaded").count > before
            }
            XCTAssertTrue(done, "\(relay.name) did not reload:\n\(processes.log(relay.name))")
            reloads += 1
            // Let some traffic pass at every step.
            let target = reloads * 50
            let progressed = await eventually(within: .seconds(10), every: .milliseconds(10)) {
                member.requests >= target && echoed.withLockedValue { $0 } >= target / 2
            }
            XCTAssertTrue(progressed)
        }
        // 1. Accept the new key everywhere.
        try await reload(a, primary: old, accepted: [new])
        try await reload(b, primary: old, accepted: [new])
        // 2. Switch the primary everywhere; A must verify B's new claim before anyone retires the old key.
        try await reload(a, primary: new, accepted: [old])
        try await reload(b, primary: new, accepted: [old])
        let switched = await waitUntilProven(processes, at: a, nodes: [nodes["B"]!], name: cluster, fingerprint: newPrint)
        XCTAssertTrue(switched, "\(Self.protection(processes, a)?.protection?.proven ?? [])")
        // 3. Retire the old key.
        try await reload(b, primary: new, accepted: [])
        try await reload(a, primary: new, accepted: [])
        stop.withLockedValue { $0 = true }
        let (requestsOK, requestFailures) = await requests.value
        let (echoesOK, echoFailures) = await echoes.value
        XCTAssertEqual(requestFailures, [])
        XCTAssertEqual(echoFailures, [])
        XCTAssertGreaterThanOrEqual(requestsOK, 300)
        XCTAssertGreaterThanOrEqual(echoesOK, 150)
        for relay in [a, b] {
            XCTAssertEqual(Self.protection(processes, relay)?.protection?.openFailures, 0, processes.log(relay.name))
        }
        print("rotation under load: \(requestsOK) requests and \(echoesOK) tunnel echoes, none lost")
        try await tunnel.close()
        try await client.close()
        try await service.close()
    }
}

/// Events a subscription received, in order (thread-safe).
final class EventLog: Sendable {
    private let state = NIOLockedValueBox<[String]>([])
    func append(_ item: String) { state.withLockedValue { $0.append(item) } }
    var items: [String] { state.withLockedValue { $0 } }
    var count: Int { state.withLockedValue { $0.count } }
}
