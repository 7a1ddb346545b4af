#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PlexusOverlay
import PlexusProcesses

/// A private network for fault-injection tests: every relay runs in its own network namespace,
/// attached by a veth pair to one bridge that lives in a further namespace of its own. Nothing is
/// configured in the host's namespace, so the addresses (`10.213.0.0/24`) exist only inside the
/// namespaces this bed creates, and no packet of a test can leave them.
///
/// Faults: `kill` (SIGKILL), `pause`/`resume` (SIGSTOP/SIGCONT), `restart`, `partition`/`heal`
/// (nftables drop rules inside the relay's namespace), `dropPackets` (random loss, nftables
/// `numgen`).
///
/// Guarantees: `tearDown` (also run by `deinit`) kills every relay it started and deletes every
/// namespace it created, which removes the veths, the bridge and all nftables rules with them;
/// it is idempotent, and the constructor removes what it created if set-up fails half-way.
/// Namespaces left by a bed whose process died (SIGKILL of the test runner) are removed by the
/// next bed (`removeLeftovers`).
///
/// Not thread-safe: one test drives it.
public final class FaultBed {
    /// The relays' addresses: `subnet` + (10 + index).
    public static let subnet = "10.213.0."
    /// Every namespace of a bed starts with this, followed by the creating process's PID.
    public static let namespacePrefix = "pxfb"

    public let processes: RelayProcesses
    public let relays: [FaultBedRelay]
    public let bridgeNamespace: String
    /// The network key file every relay uses.
    public let keyPath: String
    private var createdNamespaces: [String] = []
    /// Helper processes (`startHelper`), killed by `tearDown`.
    private var helpers: [Process] = []
    private var tornDown = false

    /// Why fault-bed tests cannot run here (not root, no `ip` or `nft`, no namespace support), or
    /// nil if they can.
    public static func unavailableReason() -> String? {
        guard getuid() == 0 else { return "needs root (network namespaces)" }
        guard ipTool != nil else { return "needs the `ip` tool (iproute2; scripts/install-deps.sh)" }
        guard let nft = nftTool else { return "needs the `nft` tool (nftables; scripts/install-deps.sh)" }
        let probe = "\(namespacePrefix)\(getpid())probe"
        defer { ip("netns del \(probe)") }
        guard ip("netns add \(probe)") else { return "`ip netns add` failed: no network namespace support" }
        guard ip("netns exec \(probe) \(nft) add table inet probe") else { return "nftables does not work in a namespace" }
        return nil
    }

    /// Creates the bridge namespace and `relayCount` relay namespaces (no relay is started yet).
    public init(relayCount: Int, binary: String? = nil) throws {
        precondition(relayCount > 0 && relayCount <= 200)
        Self.removeLeftovers()
        processes = try RelayProcesses(binary: binary, prefix: "plexus-faultbed")
        let tag = "\(Self.namespacePrefix)\(getpid())x\(UInt16.random(in: 0...UInt16.max))"
        bridgeNamespace = "\(tag)b"
        relays = (0..<relayCount).map { index in
            FaultBedRelay(index: index, name: "r\(index)", namespace: "\(tag)r\(index)",
                          address: "\(Self.subnet)\(10 + index)")
        }
        keyPath = processes.path("network.key")
        do {
            try makeNetwork()
            let keygen = try processes.run(["keygen", "--out", keyPath])
            guard keygen.status == 0 else { throw FaultBedError.commandFailed("plexus keygen") }
        } catch {
            tearDown()
            throw error
        }
    }

    deinit { tearDown() }

    private func makeNetwork() throws {
        func must(_ command: String) throws {
            guard ip(command) else { throw FaultBedError.commandFailed("ip \(command)") }
        }
        try must("netns add \(bridgeNamespace)")
        createdNamespaces.append(bridgeNamespace)
        try must("-n \(bridgeNamespace) link add br0 type bridge")
        try must("-n \(bridgeNamespace) link set br0 up")
        for relay in relays {
            try must("netns add \(relay.namespace)")
            createdNamespaces.append(relay.namespace)
            // The veth is created inside the bridge namespace with its peer directly in the
            // relay's: neither end ever exists in the host namespace.
            try must("-n \(bridgeNamespace) link add v\(relay.index) type veth peer name eth0 netns \(relay.namespace)")
            try must("-n \(bridgeNamespace) link set v\(relay.index) master br0")
            try must("-n \(bridgeNamespace) link set v\(relay.index) up")
            try must("-n \(relay.namespace) addr add \(relay.address)/24 dev eth0")
            try must("-n \(relay.namespace) link set eth0 up")
            try must("-n \(relay.namespace) link set lo up")
        }
    }

    // MARK: - Relays

    /// Starts relay `index`, joining the relays `join` (indices).
    public func start(_ index: Int, join: [Int] = [], extraArguments: [String] = []) throws {
        let relay = relays[index]
        var arguments = ["relay", "--key", keyPath, "--data-dir", processes.path("data-\(relay.name)"),
                         "--port", "\(FaultBedRelay.clientPort)", "--peer-port", "\(FaultBedRelay.peerPort)",
                         "--peer-host", relay.address, "--advertise", relay.address,
                         "--admin-port", "\(FaultBedRelay.adminPort)", "--zone", "zone-\(relay.name)"]
        for seed in join where seed != index { arguments += ["--join", "\(relays[seed].address):\(FaultBedRelay.peerPort)"] }
        try processes.start(relay.name, arguments + extraArguments, namespace: relay.namespace)
    }

    /// Starts every relay, each joining relay 0 (and relay 0 joining relay 1).
    public func startAll() throws {
        for relay in relays { try start(relay.index, join: relay.index == 0 ? [1] : [0]) }
    }

    /// `plexus status --json` of relay `index` (nil if it does not answer within 5 s).
    public func status(_ index: Int) -> OverlayStatus? {
        processes.status(adminPort: FaultBedRelay.adminPort, namespace: relays[index].namespace,
                         tokenFile: RelaySpec.tokenFile(dataDirectory: processes.path("data-\(relays[index].name)")))
    }

    /// Waits (at most `timeout` seconds) until every relay in `indices` sees all of them alive;
    /// returns node IDs by index, or nil.
    public func waitUntilAllAlive(_ indices: [Int]? = nil, timeout: Double) -> [Int: String]? {
        let indices = indices ?? relays.map(\.index)
        var nodes: [Int: String] = [:]
        let converged = waitUntil(timeout) {
            for index in indices {
                guard let status = status(index) else { return false }
                nodes[index] = status.node
            }
            for index in indices {
                guard let status = status(index) else { return false }
                let alive = Set(status.members.filter { $0.state == "alive" }.map(\.node))
                guard indices.allSatisfy({ nodes[$0].map(alive.contains) ?? false }) else { return false }
            }
            return true
        }
        return converged ? nodes : nil
    }

    /// The relay's log so far.
    public func log(_ index: Int) -> String { processes.log(relays[index].name) }

    /// kill -9.
    public func kill(_ index: Int) {
        processes.signal(relays[index].name, SIGKILL)
        processes.waitExit(relays[index].name, timeout: 5)
    }

    /// SIGSTOP: the process is frozen, its sockets stay open.
    public func pause(_ index: Int) { processes.signal(relays[index].name, SIGSTOP) }

    /// SIGCONT.
    public func resume(_ index: Int) { processes.signal(relays[index].name, SIGCONT) }

    /// kill -9, then start again with the same data directory (same node ID), joining `join`.
    public func restart(_ index: Int, join: [Int]) throws {
        kill(index)
        try start(index, join: join)
    }

    /// Starts a helper process in relay `index`'s namespace (a client, or a misbehaving host; the
    /// relay itself need not run there). It is SIGKILLed by `tearDown`. Its standard output goes
    /// to `output` (a file in the bed's directory, see `helperOutput`) if given, else nowhere.
    public func startHelper(in index: Int, _ executable: String, _ arguments: [String], output: String? = nil) throws {
        guard let ipPath = ipTool else { throw FaultBedError.commandFailed("ip tool missing") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ipPath)
        process.arguments = ["netns", "exec", relays[index].namespace, executable] + arguments
        if let output {
            _ = FileManager.default.createFile(atPath: processes.path(output), contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: processes.path(output)))
        } else {
            process.standardOutput = FileHandle.nullDevice
        }
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        helpers.append(process)
    }

    /// What a helper wrote to `output` so far.
    public func helperOutput(_ output: String) -> String {
        (try? String(contentsOfFile: processes.path(output), encoding: .utf8)) ?? ""
    }

    /// Starts a subscriber of `topic` on relay `index` (`plexus subscribe`); its events go to `output`.
    public func startSubscriber(on index: Int, topic: String, output: String) throws {
        try startHelper(in: index, processes.binary, ["subscribe", topic, "--port", "\(FaultBedRelay.clientPort)"], output: output)
    }

    /// Starts a publisher on relay `index` that publishes the events "0", "1", "2", … to `topic`,
    /// one `plexus publish` after the other, for `seconds`.
    public func startCountingPublisher(on index: Int, topic: String, seconds: Int) throws {
        let script = """
        end=$((SECONDS + \(seconds))); i=0
        while [ $SECONDS -lt $end ]; do
          "$0" publish \(topic) $i --port \(FaultBedRelay.clientPort) >/dev/null 2>&1 && i=$((i + 1))
        done
        """
        try startHelper(in: index, "/bin/bash", ["-c", script, processes.binary])
    }

    /// Starts a helper in relay `from`'s namespace that keeps `count` idle TCP connections (no
    /// handshake, no byte sent) open to relay `to`'s peer port for `seconds`, closing and
    /// re-opening them every `reopenEvery` seconds (bash `/dev/tcp`, so no extra tool is needed).
    public func holdIdleConnections(from: Int, to: Int, count: Int, seconds: Int, reopenEvery: Int = 1) throws {
        let target = "/dev/tcp/\(relays[to].address)/\(FaultBedRelay.peerPort)"
        let script = """
        end=$((SECONDS + \(seconds))); fds=()
        while [ $SECONDS -lt $end ]; do
          for fd in "${fds[@]}"; do exec {fd}>&-; done; fds=()
          for i in $(seq \(count)); do if exec {fd}<>\(target); then fds+=($fd); fi; done 2>/dev/null
          sleep \(reopenEvery)
        done
        """
        try startHelper(in: from, "/bin/bash", ["-c", script])
    }

    // MARK: - Network faults (nftables inside the relay's namespace)

    /// Cuts relay `index` off from the relays `others` (both directions, every protocol).
    public func partition(_ index: Int, from others: [Int]) throws {
        try ensureFaultTable(index)
        for other in others where other != index {
            try nft(index, "add rule inet plexusfault input ip saddr \(relays[other].address) drop")
            try nft(index, "add rule inet plexusfault output ip daddr \(relays[other].address) drop")
        }
    }

    /// Drops `percent` % of the packets relay `index` receives and sends (each direction independently).
    public func dropPackets(at index: Int, percent: Int) throws {
        precondition((0...100).contains(percent))
        try ensureFaultTable(index)
        guard percent > 0 else { return }
        // nft refuses `< 100` for a value mod 100: total loss is a plain rule.
        let sample = percent < 100 ? "numgen random mod 100 < \(percent) " : ""
        for chain in ["input", "output"] {
            try nft(index, "add rule inet plexusfault \(chain) ip saddr \(Self.subnet)0/24 \(sample)counter drop")
        }
    }

    /// Packets dropped so far by `dropPackets` rules at relay `index` (their nftables counters).
    public func droppedPackets(at index: Int) -> Int {
        guard let tool = nftTool, let ipPath = ipTool,
              let listing = Self.output(of: ipPath, ["netns", "exec", relays[index].namespace, tool, "list", "table", "inet", "plexusfault"])
        else { return 0 }
        // "... counter packets 12 bytes 3456 drop"
        var total = 0
        for line in listing.split(separator: "\n") {
            let words = line.split(separator: " ")
            if let at = words.firstIndex(of: "packets"), at + 1 < words.count, let count = Int(words[at + 1]) { total += count }
        }
        return total
    }

    /// Runs a tool (bounded by 10 s) and returns its standard output, nil if it failed.
    static func output(of tool: String, _ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        // Small outputs only (an nftables table listing): the pipe buffer holds it while we wait.
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }

    /// Removes every network fault of relay `index`.
    public func heal(_ index: Int) {
        _ = try? nft(index, "delete table inet plexusfault")
    }

    private func ensureFaultTable(_ index: Int) throws {
        try nft(index, "add table inet plexusfault")
        for chain in ["input", "output"] {
            try nft(index, "add chain inet plexusfault \(chain) { type filter hook \(chain) priority 0 ; policy accept ; }")
        }
    }

    private func nft(_ index: Int, _ command: String) throws {
        guard let tool = nftTool, ip("netns exec \(relays[index].namespace) \(tool) \(command)") else {
            throw FaultBedError.commandFailed("nft \(command) in \(relays[index].namespace)")
        }
    }

    // MARK: - Teardown

    /// Kills every relay, deletes every namespace this bed created and the temporary directory.
    public func tearDown() {
        guard !tornDown else { return }
        tornDown = true
        for helper in helpers where helper.isRunning { Glibc.kill(helper.processIdentifier, SIGKILL) }
        for helper in helpers { helper.waitUntilExit() }
        helpers = []
        processes.stopAll()
        for namespace in createdNamespaces.reversed() { ip("netns del \(namespace)") }
        createdNamespaces = []
        try? FileManager.default.removeItem(at: processes.directory)
    }

    /// Deletes namespaces of beds whose creating process no longer exists.
    public static func removeLeftovers() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/var/run/netns") else { return }
        for name in names where name.hasPrefix(namespacePrefix) {
            let digits = name.dropFirst(namespacePrefix.count).prefix { $0.isNumber }
            guard let pid = Int32(digits), pid != getpid() else { continue }
            if Glibc.kill(pid, 0) != 0 && errno == ESRCH { ip("netns del \(name)") }
        }
    }
}

/// One relay of a `FaultBed`. Namespaces have their own port spaces, so the ports are fixed.
public struct FaultBedRelay: Sendable {
    public static let clientPort = 41_001
    public static let peerPort = 41_101
    public static let adminPort = 41_201
    public let index: Int
    public let name: String
    public let namespace: String
    public let address: String
}

/// Why a fault bed could not be set up or a fault not be injected (the command that failed).
public enum FaultBedError: Error, CustomStringConvertible {
    case commandFailed(String)

    public var description: String {
        switch self {
        case .commandFailed(let command): "fault bed set-up failed: \(command)"
        }
    }
}

/// The `nft` tool, if installed.
public let nftTool: String? = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].first { FileManager.default.isExecutableFile(atPath: $0) }
