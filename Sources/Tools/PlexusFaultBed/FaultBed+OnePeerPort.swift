#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PlexusProcesses

/// What issue 13's "one peer port" needs from the bed: relays started the way an operator starts
/// them on separate hosts (only `--peer-port` and `--join`: no `--advertise`, no `--peer-host`),
/// a firewall in each relay's namespace that lets only the peer port through, and `plexus`
/// clients run inside a namespace with their output captured.
extension FaultBed {
    /// Starts relay `index` with only `--peer-port` and `--join` between relays (plus its key, data
    /// directory, client port and the loopback-only status endpoint the bed reads).
    public func startWithPeerPortOnly(_ index: Int, join: [Int]) throws {
        let relay = relays[index]
        var arguments = ["relay", "--key", keyPath, "--data-dir", processes.path("data-\(relay.name)"),
                         "--port", "\(FaultBedRelay.clientPort)", "--peer-port", "\(FaultBedRelay.peerPort)",
                         "--admin-port", "\(FaultBedRelay.adminPort)"]
        for seed in join where seed != index { arguments += ["--join", "\(relays[seed].address):\(FaultBedRelay.peerPort)"] }
        try processes.start(relay.name, arguments, namespace: relay.namespace)
    }

    /// nftables in relay `index`'s namespace: loopback, established/related traffic and the peer
    /// port (TCP and UDP) pass, in and out; everything else is counted and dropped.
    public func allowOnlyPeerPort(_ index: Int) throws {
        let port = FaultBedRelay.peerPort
        try nftCommand(index, "add table inet plexusonly")
        for (chain, interface, portField) in [("input", "iif", "dport"), ("output", "oif", "dport")] {
            try nftCommand(index, "add chain inet plexusonly \(chain) { type filter hook \(chain) priority 0 ; policy drop ; }")
            try nftCommand(index, "add rule inet plexusonly \(chain) \(interface) lo accept")
            try nftCommand(index, "add rule inet plexusonly \(chain) ct state established,related accept")
            try nftCommand(index, "add rule inet plexusonly \(chain) tcp \(portField) \(port) accept")
            try nftCommand(index, "add rule inet plexusonly \(chain) udp \(portField) \(port) accept")
            try nftCommand(index, "add rule inet plexusonly \(chain) counter drop")
        }
    }

    /// Packets the `allowOnlyPeerPort` firewall of relay `index` dropped so far.
    public func firewallDrops(at index: Int) -> Int {
        guard let tool = nftTool, let ipPath = ipTool,
              let listing = Self.output(of: ipPath, ["netns", "exec", relays[index].namespace, tool, "list", "table", "inet", "plexusonly"])
        else { return 0 }
        var total = 0
        for line in listing.split(separator: "\n") {
            let words = line.split(separator: " ")
            if let at = words.firstIndex(of: "packets"), at + 1 < words.count, let count = Int(words[at + 1]) { total += count }
        }
        return total
    }

    /// Runs `executable arguments` in relay `index`'s namespace with `input` on standard input;
    /// returns its exit status and standard output, or nil if it did not finish within
    /// `timeout` seconds (it is then killed). For short outputs only (a pipe's buffer).
    public func runInNamespace(_ index: Int, _ executable: String, _ arguments: [String], input: String = "",
                               timeout: Double = 10) -> (status: Int32, output: String)? {
        guard let ipPath = ipTool else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ipPath)
        process.arguments = ["netns", "exec", relays[index].namespace, executable] + arguments
        let (stdin, stdout) = (Pipe(), Pipe())
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        guard (try? process.run()) != nil else { return nil }
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try? stdin.fileHandleForWriting.close()
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Runs `plexus ARGUMENTS --port <client port>` in relay `index`'s namespace (see `runInNamespace`).
    public func runClient(on index: Int, _ arguments: [String], input: String = "", timeout: Double = 10)
        -> (status: Int32, output: String)? {
        runInNamespace(index, processes.binary, arguments + ["--port", "\(FaultBedRelay.clientPort)"], input: input, timeout: timeout)
    }

    private func nftCommand(_ index: Int, _ command: String) throws {
        guard let tool = nftTool, ip("netns exec \(relays[index].namespace) \(tool) \(command)") else {
            throw FaultBedError.commandFailed("nft \(command) in \(relays[index].namespace)")
        }
    }
}
