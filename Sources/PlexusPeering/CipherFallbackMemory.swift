import PlexusMembership
import PlexusNoise

/// Which peers refused the cipher we proposed, and for how long we believe them: a pure value
/// (peer and current time in, the cipher to propose out), tested on virtual time.
///
/// Guarantees: a peer that refused our proposal is offered the mandatory ChaChaPoly suite for
/// `retryAfter`; then our preferred suite again (the refusal may have been an admission limit
/// of the moment, or the peer may have been upgraded). At most `capacity` peers are remembered;
/// past that a refusing peer costs one failed handshake per dial, then still gets ChaChaPoly on
/// the redial of the same link.
struct CipherFallbackMemory {
    /// Nanoseconds of monotonic time.
    typealias Nanoseconds = UInt64

    let capacity: Int
    let retryAfter: Nanoseconds
    private var refusedAt: [NodeID: Nanoseconds] = [:]

    init(capacity: Int, retryAfter: Nanoseconds) {
        self.capacity = capacity
        self.retryAfter = retryAfter
    }

    /// Peers currently believed to refuse our proposal.
    var count: Int { refusedAt.count }

    /// The cipher to propose to `peer` at `now`: `preferred`, unless that peer refused it less
    /// than `retryAfter` ago.
    mutating func proposal(for peer: NodeID, preferred: NoiseCipher, now: Nanoseconds) -> NoiseCipher {
        guard let since = refusedAt[peer] else { return preferred }
        if now &- since >= retryAfter {
            refusedAt[peer] = nil
            return preferred
        }
        return .chaChaPoly
    }

    /// `peer` closed our dial proposing another suite without answering. Expired entries are
    /// dropped first when the memory is full.
    mutating func recordRefusal(by peer: NodeID, now: Nanoseconds) {
        if refusedAt[peer] == nil, refusedAt.count >= capacity {
            refusedAt = refusedAt.filter { now &- $0.value < retryAfter }
            guard refusedAt.count < capacity else { return }
        }
        refusedAt[peer] = now
    }
}
