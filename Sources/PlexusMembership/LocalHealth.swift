/// Lifeguard's local health awareness: a score that rises when this node itself seems slow or
/// unhealthy (missed acks and nacks, having to refute) and falls on successful probes.
///
/// Guarantees: the score stays in 0 ..< maxMultiplier; `scale(_:)` stretches a timeout by score + 1,
/// so a slow node waits longer before accusing others.
public struct LocalHealth: Sendable, Equatable {
    public let maxMultiplier: Int
    public private(set) var score: Int = 0

    public init(maxMultiplier: Int) {
        self.maxMultiplier = max(1, maxMultiplier)
    }

    /// Adds `delta` (negative to improve), clamped to the valid range.
    public mutating func apply(_ delta: Int) {
        score = min(max(score + delta, 0), maxMultiplier - 1)
    }

    /// `timeout` stretched by the current score.
    public func scale(_ timeout: Milliseconds) -> Milliseconds {
        timeout * Milliseconds(score + 1)
    }
}
