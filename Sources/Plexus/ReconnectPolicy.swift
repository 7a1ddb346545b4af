/// How a `Connection` reconnects after it lost the relay (relay restart, crash, network).
///
/// Guarantees: the delay before attempt n is `initialDelay × multiplier^(n−1)`, capped at
/// `maximumDelay`, then spread by ±`jitter` (a fraction, 0…1) so that many clients of one
/// relay do not come back in lock step; never negative. With `maximumAttempts` set, the
/// binding gives up after that many failed attempts and the connection ends with
/// `PlexusError.connectionLost`. `.disabled` never reconnects.
public struct ReconnectPolicy: Sendable, Equatable {
    public var isEnabled: Bool
    public var initialDelay: Duration
    public var maximumDelay: Duration
    public var multiplier: Double
    public var jitter: Double
    /// nil: keep trying until `close()` (or the `Connection` is released).
    public var maximumAttempts: Int?

    public init(
        initialDelay: Duration = .milliseconds(100),
        maximumDelay: Duration = .seconds(1),
        multiplier: Double = 2,
        jitter: Double = 0.2,
        maximumAttempts: Int? = nil
    ) {
        self.isEnabled = true
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.multiplier = multiplier
        self.jitter = jitter
        self.maximumAttempts = maximumAttempts
    }

    /// The default: first retry after ~100 ms, doubling up to 1 s (±20 %), forever. A relay
    /// that is back is found again within about 1.2 s.
    public static let `default` = ReconnectPolicy()

    /// Never reconnect: a lost connection ends for good.
    public static var disabled: ReconnectPolicy {
        var policy = ReconnectPolicy()
        policy.isEnabled = false
        return policy
    }

    /// The delay before attempt `attempt` (1-based), for a uniform random `unit` in 0…1.
    /// Pure: the same inputs give the same delay.
    public func delay(beforeAttempt attempt: Int, unit: Double) -> Duration {
        let initial = Self.seconds(initialDelay), maximum = max(0, Self.seconds(maximumDelay))
        let exponent = Double(max(0, min(attempt - 1, 64)))
        let base = min(maximum, max(0, initial) * Self.power(max(1, multiplier), exponent))
        let spread = min(1, max(0, jitter))
        let factor = 1 + spread * (2 * min(1, max(0, unit)) - 1)
        return .nanoseconds(Int64((base * factor * 1e9).rounded()))
    }

    /// Whether attempt `attempt` (1-based) may still be made.
    public func allows(attempt: Int) -> Bool {
        guard isEnabled else { return false }
        guard let maximumAttempts else { return true }
        return attempt <= maximumAttempts
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// `base^exponent` for a whole exponent ≤ 64, without Foundation.
    private static func power(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        var remaining = Int(exponent)
        while remaining > 0, result < 1e12 {
            result *= base
            remaining -= 1
        }
        return result
    }
}
