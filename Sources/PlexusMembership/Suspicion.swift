/// The Lifeguard suspicion timeout as pure functions.
///
/// Guarantees: `timeout` never goes below `minimum` nor above `maximum`, is non-increasing in the
/// number of confirmations, and equals `minimum` once `expected` confirmations have arrived.
public enum SuspicionTimeout {
    /// Minimum suspicion timeout for a cluster of `memberCount` members:
    /// multiplier × max(1, log10 N) × unit.
    public static func minimum(memberCount: Int, multiplier: Double, unit: Milliseconds) -> Milliseconds {
        let scale = max(1.0, log10(Double(max(memberCount, 1))))
        return Milliseconds((multiplier * scale * Double(unit)).rounded())
    }

    /// Lifeguard: timeout(C) = max(min, max − (max − min) · log(C + 1) / log(K + 1)).
    public static func timeout(
        confirmations: Int, expected: Int, minimum: Milliseconds, maximum: Milliseconds
    ) -> Milliseconds {
        guard expected > 0, maximum > minimum else { return minimum }
        let fraction = ln(Double(max(confirmations, 0) + 1)) / ln(Double(expected + 1))
        let raw = Double(maximum) - Double(maximum - minimum) * fraction
        return max(minimum, Milliseconds(raw.rounded(.down)))
    }
}

/// One running suspicion of one member at one incarnation.
///
/// Guarantees: counts each confirming member at most once; the accuser that started the suspicion
/// and the local node are not confirmations.
struct Suspicion: Sendable {
    let incarnation: UInt64
    let startedAt: Milliseconds
    let minimum: Milliseconds
    let maximum: Milliseconds
    let expected: Int
    private(set) var confirmers: Set<NodeID>
    /// The time at which the member is declared dead if no refutation arrives (kept up to date by
    /// `confirm`: the next-tick computation reads it after every event).
    private(set) var deadline: Milliseconds

    init(incarnation: UInt64, accuser: NodeID, startedAt: Milliseconds,
         minimum: Milliseconds, maximum: Milliseconds, expected: Int) {
        self.incarnation = incarnation
        self.startedAt = startedAt
        self.minimum = minimum
        self.maximum = maximum
        self.expected = expected
        self.confirmers = [accuser]
        self.deadline = startedAt + SuspicionTimeout.timeout(confirmations: 0, expected: expected,
                                                             minimum: minimum, maximum: maximum)
    }

    /// Independent confirmations so far (excluding the original accuser).
    var confirmations: Int { confirmers.count - 1 }

    /// Records `accuser`; returns true if it was a new, independent confirmation.
    mutating func confirm(by accuser: NodeID) -> Bool {
        guard confirmations < expected, confirmers.insert(accuser).inserted else { return false }
        deadline = startedAt + SuspicionTimeout.timeout(confirmations: confirmations, expected: expected,
                                                        minimum: minimum, maximum: maximum)
        return true
    }
}
