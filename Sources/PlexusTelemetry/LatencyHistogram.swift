/// A fixed-bucket latency histogram that is cheap to record into on the relay's hot path.
///
/// Guarantees:
/// * `record` is a bounded loop over at most `boundsNanoseconds.count` (14) comparisons and one
///   array increment: no allocation after `init`, no lock, no call into a metrics library.
/// * The bucket bounds are the same for every instance, so histograms from several loops or
///   several scrapes can be merged by `merge` (bucket counts add up exactly).
/// * Counts are cumulative from creation and never decrease; exporters turn them into
///   Prometheus `_bucket`, `_sum` and `_count` series (see `Docs/operations.md`).
public struct LatencyHistogram: Sendable, Hashable, Codable {
    /// Upper bounds (inclusive) of the finite buckets, in nanoseconds: 100 µs … 30 s.
    public static let boundsNanoseconds: [Int64] = [
        100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000,
        50_000_000, 100_000_000, 250_000_000, 1_000_000_000, 5_000_000_000, 30_000_000_000,
    ]

    /// Observations per bucket (not cumulative); the last entry is the +Inf bucket.
    public private(set) var bucketCounts: [UInt64]
    /// Sum of every observation, in nanoseconds (saturating).
    public private(set) var sumNanoseconds: UInt64 = 0
    /// Number of observations.
    public private(set) var count: UInt64 = 0

    public init() {
        bucketCounts = Array(repeating: 0, count: Self.boundsNanoseconds.count + 1)
    }

    /// Records one observation; negative durations count as zero.
    public mutating func record(nanoseconds: Int64) {
        let value = max(0, nanoseconds)
        var index = 0
        let bounds = Self.boundsNanoseconds
        while index < bounds.count, value > bounds[index] { index += 1 }
        bucketCounts[index] &+= 1
        let (sum, overflow) = sumNanoseconds.addingReportingOverflow(UInt64(value))
        sumNanoseconds = overflow ? .max : sum
        count &+= 1
    }

    /// Adds every observation of `other` to this histogram.
    public mutating func merge(_ other: LatencyHistogram) {
        for index in bucketCounts.indices { bucketCounts[index] &+= other.bucketCounts[index] }
        let (sum, overflow) = sumNanoseconds.addingReportingOverflow(other.sumNanoseconds)
        sumNanoseconds = overflow ? .max : sum
        count &+= other.count
    }

    /// Cumulative counts per finite bound, then +Inf, as Prometheus `_bucket` series need them.
    public var cumulativeCounts: [UInt64] {
        var running: UInt64 = 0
        return bucketCounts.map { count in
            running &+= count
            return running
        }
    }
}
