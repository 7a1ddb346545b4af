/// The limits on names and interest that every layer enforces alike: the client endpoint refuses
/// input beyond them where it enters, the relay core never stores more, and the directory and
/// the membership codec carry at most this much. Defined here once, so they cannot disagree.
public enum OverlayLimits {
    /// Bytes in a cluster or topic name: at least 1 (an empty cluster in INIT means "no cluster").
    public static let nameBytes: ClosedRange<Int> = 1...255
    /// Distinct clusters one relay may have local members of (its directory record's clusters).
    public static let maxClustersPerRelay = 1_024
    /// Distinct topics one relay may have local subscribers of (its directory record's topics).
    public static let maxTopicsPerRelay = 4_096

    /// Why a name of `byteCount` bytes cannot be used as a `kind` ("cluster", "topic"), or nil.
    public static func nameRefusal(kind: String, byteCount: Int) -> String? {
        guard !nameBytes.contains(byteCount) else { return nil }
        return "plexus: limit: a \(kind) name must be \(nameBytes.lowerBound) to \(nameBytes.upperBound) bytes, got \(byteCount)"
    }
}
