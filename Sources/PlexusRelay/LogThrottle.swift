import NIOCore

/// Rate limit for a log line that input from outside can repeat (protocol violations, refused
/// input): at most `burst` lines per `interval`; the lines held back are counted and reported
/// with the next line that is let through. Pure: the caller passes the time.
///
/// Guarantees: never more than `burst` lines per interval; no suppressed line goes uncounted.
struct LogThrottle: Sendable {
    let interval: TimeAmount
    let burst: Int
    private var windowStart: NIODeadline?
    private var linesInWindow = 0
    private var suppressed = 0

    init(interval: TimeAmount = .seconds(10), burst: Int = 5) {
        self.interval = interval
        self.burst = burst
    }

    /// Whether to log now; if so, how many lines were held back since the last one logged.
    mutating func admit(now: NIODeadline) -> (log: Bool, suppressedBefore: Int) {
        if let start = windowStart, now - start < interval {
            guard linesInWindow < burst else {
                suppressed += 1
                return (false, 0)
            }
        } else {
            windowStart = now
            linesInWindow = 0
        }
        linesInWindow += 1
        defer { suppressed = 0 }
        return (true, suppressed)
    }
}

/// Losses of broadcasts and events since the last report, for one aggregate info line.
struct LossReport: Sendable {
    private var lastBroadcasts: [String: Int] = [:]
    private var lastEvents: [String: Int] = [:]

    /// The losses since the previous call, by reason ("" when there were none).
    mutating func since(broadcasts: [String: Int], events: [String: Int]) -> String {
        func delta(_ now: [String: Int], _ before: [String: Int]) -> [String] {
            now.keys.sorted().compactMap { key in
                let added = now[key, default: 0] - before[key, default: 0]
                return added > 0 ? "\(key)=\(added)" : nil
            }
        }
        let lostBroadcasts = delta(broadcasts, lastBroadcasts), lostEvents = delta(events, lastEvents)
        lastBroadcasts = broadcasts
        lastEvents = events
        var parts: [String] = []
        if !lostEvents.isEmpty { parts.append("events " + lostEvents.joined(separator: " ")) }
        if !lostBroadcasts.isEmpty { parts.append("broadcasts " + lostBroadcasts.joined(separator: " ")) }
        return parts.joined(separator: "; ")
    }
}
