import Foundation
import PlexusProcesses

/// The load of the fault scenarios and the soak, run as `PlexusFaultLoad` processes inside the
/// relays' namespaces (`startHelper`), each writing its lines to a file of the bed's directory.
extension FaultBed {
    /// The `PlexusFaultLoad` binary, next to `plexus`.
    public var loadTool: String {
        URL(fileURLWithPath: processes.binary).deletingLastPathComponent().appendingPathComponent("PlexusFaultLoad").path
    }

    /// Starts a member of `cluster` that subscribes to `topic` on relay `index`, for `seconds`;
    /// its lines go to `output`.
    public func startLoadMember(on index: Int, cluster: String = "load", topic: String = "load-events",
                                seconds: Int, output: String) throws {
        try startHelper(in: index, loadTool, ["member", "--port", "\(FaultBedRelay.clientPort)", "--cluster", cluster,
                                              "--topic", topic, "--seconds", "\(seconds)"], output: output)
    }

    /// Starts a driver on relay `index` (`PlexusFaultLoad drive` with `arguments`); its summary
    /// lines go to `output`.
    public func startLoadDriver(on index: Int, id: String, arguments: [String], output: String) throws {
        try startHelper(in: index, loadTool, ["drive", "--port", "\(FaultBedRelay.clientPort)", "--id", id] + arguments,
                        output: output)
    }

    /// Starts a flood (`PlexusFaultLoad flood`) from namespace `index` against `host:port`.
    public func startFlood(from index: Int, kind: String, host: String, port: Int, connections: Int = 100, seconds: Int,
                           output: String) throws {
        try startHelper(in: index, loadTool, ["flood", "--kind", kind, "--host", host, "--port", "\(port)",
                                              "--connections", "\(connections)", "--seconds", "\(seconds)"], output: output)
    }

    /// The object of the last "FINAL {...}" line of `output`, once there is one (nil after `timeout` s).
    public func finalSummary(_ output: String, timeout: Double) -> [String: Any]? {
        var summary: [String: Any]?
        _ = waitUntil(timeout) {
            summary = LoadAudit.lastObject(prefix: "FINAL ", in: helperOutput(output))
            return summary != nil
        }
        return summary
    }

    /// Whether every member output in `outputs` printed "READY" (within `timeout` s).
    public func waitUntilReady(_ outputs: [String], timeout: Double) -> Bool {
        waitUntil(timeout) { outputs.allSatisfy { helperOutput($0).contains("READY") } }
    }
}

/// Counts what members received against what drivers sent: exactly once, in order per
/// publisher. Pure (parses the lines of `PlexusFaultLoad`), so it is unit-tested on text.
public struct LoadAudit: Sendable, Equatable {
    /// Requests handled by the members, by payload, more than once.
    public var requestsHandledTwice = 0
    /// Total requests the members handled.
    public var requestsHandled = 0
    /// Per receiver: items received, duplicates, items missing between the first and the last
    /// seen (gaps), items received out of order, and the highest number seen.
    public struct Stream: Sendable, Equatable {
        public var received = 0
        public var duplicates = 0
        public var gaps = 0
        public var outOfOrder = 0
        public var highest = -1

        public init(received: Int = 0, duplicates: Int = 0, gaps: Int = 0, outOfOrder: Int = 0, highest: Int = -1) {
            self.received = received
            self.duplicates = duplicates
            self.gaps = gaps
            self.outOfOrder = outOfOrder
            self.highest = highest
        }
    }

    public var events: [String: Stream] = [:]
    public var broadcasts: [String: Stream] = [:]

    /// `members`: output name → its text.
    public init(members: [String: String], publisher: String) {
        var handled: [Substring: Int] = [:]
        for (name, text) in members {
            var events = Stream(), broadcasts = Stream()
            var seenEvents = Set<Int>(), seenBroadcasts = Set<Int>()
            for line in text.split(separator: "\n") {
                if line.hasPrefix("Q ") {
                    handled[line.dropFirst(2), default: 0] += 1
                } else if line.hasPrefix("E "), let number = Self.number(line.dropFirst(2), publisher: publisher, kind: "e") {
                    Self.count(number, into: &events, seen: &seenEvents)
                } else if line.hasPrefix("B "), let number = Self.number(line.dropFirst(2), publisher: publisher, kind: "b") {
                    Self.count(number, into: &broadcasts, seen: &seenBroadcasts)
                }
            }
            events.gaps = Self.gaps(seenEvents)
            broadcasts.gaps = Self.gaps(seenBroadcasts)
            self.events[name] = events
            self.broadcasts[name] = broadcasts
        }
        requestsHandled = handled.values.reduce(0, +)
        requestsHandledTwice = handled.values.filter { $0 > 1 }.count
    }

    static func number(_ payload: Substring, publisher: String, kind: String) -> Int? {
        let prefix = "\(publisher)-\(kind)-"
        guard payload.hasPrefix(prefix) else { return nil }
        return Int(payload.dropFirst(prefix.count))
    }

    static func count(_ number: Int, into stream: inout Stream, seen: inout Set<Int>) {
        stream.received += 1
        if !seen.insert(number).inserted { stream.duplicates += 1 }
        if number < stream.highest { stream.outOfOrder += 1 }
        stream.highest = max(stream.highest, number)
    }

    /// Numbers missing between the smallest and the largest seen.
    static func gaps(_ seen: Set<Int>) -> Int {
        guard let low = seen.min(), let high = seen.max() else { return 0 }
        return high - low + 1 - seen.count
    }

    /// The JSON object of the last line starting with `prefix`.
    public static func lastObject(prefix: String, in text: String) -> [String: Any]? {
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix(prefix) }) else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(line.dropFirst(prefix.count).utf8)) as? [String: Any]
    }
}
