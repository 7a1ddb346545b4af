/// Rate limit for repeated log lines, as a pure value: at most one line per key per `interval`
/// milliseconds; the line that is let through says how many were suppressed before it.
///
/// Guarantees: the first line of a key is always let through; no line is lost without being
/// counted in the next one let through; at most `maximumKeys` keys are tracked (beyond that a
/// new key is let through every time, so a flood of distinct keys cannot grow memory; callers
/// should use a small fixed set of keys, e.g. a refusal reason, never a peer address).
public struct LogRateLimiter: Sendable {
    public let interval: Int64
    public let maximumKeys: Int
    private var lastEmitted: [String: Int64] = [:]
    private var suppressed: [String: Int] = [:]

    public init(interval: Int64 = 10_000, maximumKeys: Int = 64) {
        precondition(interval > 0 && maximumKeys > 0)
        self.interval = interval
        self.maximumKeys = maximumKeys
    }

    /// nil: suppress this line (it is counted). A number: log it, mentioning that many
    /// suppressed lines of the same key since the last one logged.
    public mutating func admit(_ key: String, now: Int64) -> Int? {
        if let last = lastEmitted[key], now - last < interval {
            suppressed[key, default: 0] += 1
            return nil
        }
        guard lastEmitted[key] != nil || lastEmitted.count < maximumKeys else { return 0 }
        lastEmitted[key] = now
        return suppressed.removeValue(forKey: key) ?? 0
    }
}
