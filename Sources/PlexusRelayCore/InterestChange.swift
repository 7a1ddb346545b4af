/// A change of the relay's local interest, reported by the core (`RelayCore.interestChanges`) and, through the client
/// endpoint, by `RelayConfiguration.interestObserver`.
public enum RelayInterestChange: Sendable, Equatable {
    /// `cluster` now has `members` local members (0 = no longer served here).
    case cluster([UInt8], members: Int)
    /// `topic` has at least one local subscriber (`true`) or none (`false`).
    case topic([UInt8], subscribed: Bool)
}
