import PlexusHTTP
import PlexusTelemetry
import XCTest

final class TelemetryTests: XCTestCase {
    func testHistogramBucketsAreInclusiveUpperBounds() {
        var histogram = LatencyHistogram()
        histogram.record(nanoseconds: 100_000)      // exactly the first bound
        histogram.record(nanoseconds: 100_001)      // the second bucket
        histogram.record(nanoseconds: -5)           // counts as zero
        histogram.record(nanoseconds: 60_000_000_000) // over 30 s: +Inf
        XCTAssertEqual(histogram.bucketCounts[0], 2)
        XCTAssertEqual(histogram.bucketCounts[1], 1)
        XCTAssertEqual(histogram.bucketCounts.last, 1)
        XCTAssertEqual(histogram.count, 4)
        XCTAssertEqual(histogram.sumNanoseconds, 100_000 + 100_001 + 60_000_000_000)
        XCTAssertEqual(histogram.cumulativeCounts.last, 4)
        XCTAssertEqual(histogram.cumulativeCounts[1], 3)
    }

    func testHistogramsMergeExactly() {
        var a = LatencyHistogram()
        var b = LatencyHistogram()
        var both = LatencyHistogram()
        for (index, value) in [50_000, 3_000_000, 700_000_000, 2_000_000, 90_000_000].enumerated() {
            if index % 2 == 0 { a.record(nanoseconds: Int64(value)) } else { b.record(nanoseconds: Int64(value)) }
            both.record(nanoseconds: Int64(value))
        }
        a.merge(b)
        XCTAssertEqual(a, both)
    }

    func testTrafficCountersCountAndMerge() {
        var counters = RelayTrafficCounters()
        counters.countRequest(.ok, latencyNanoseconds: 1_000_000)
        counters.countRequest(.ok, latencyNanoseconds: 2_000_000)
        counters.countRequest(.timedOut, latencyNanoseconds: 1_000_000_000)
        counters.countHandshakeFailure(.timeout)
        counters.eventsIn = 3
        var other = RelayTrafficCounters()
        other.countRequest(.fault, latencyNanoseconds: 10)
        other.eventsIn = 2
        counters.merge(other)
        XCTAssertEqual(counters.requests(.ok), 2)
        XCTAssertEqual(counters.requests(.fault), 1)
        XCTAssertEqual(counters.requests(.timedOut), 1)
        XCTAssertEqual(counters.requests(.refused), 0)
        XCTAssertEqual(counters.handshakeFailures(.timeout), 1)
        XCTAssertEqual(counters.eventsIn, 5)
        XCTAssertEqual(counters.requestLatency.count, 4)
    }

    func testHistoryQuantilesUseBucketUpperBounds() {
        let history = MetricsHistory(capacity: 2)
        var sample = RelayMetricsSample()
        var traffic = RelayTrafficCounters()
        for _ in 0..<98 { traffic.countRequest(.ok, latencyNanoseconds: 800_000) } // ≤ 1 ms bucket
        for _ in 0..<2 { traffic.countRequest(.ok, latencyNanoseconds: 40_000_000) } // ≤ 50 ms bucket
        sample.traffic = traffic
        history.append(sample, time: 1)
        XCTAssertEqual(history.points()[0].latencyP50, 1.0)
        XCTAssertEqual(history.points()[0].latencyP99, 50.0)
        XCTAssertEqual(history.points()[0].requests, 100)
        // The next point only sees the interval's requests.
        traffic.countRequest(.ok, latencyNanoseconds: 200_000)
        sample.traffic = traffic
        history.append(sample, time: 2)
        XCTAssertEqual(history.points()[1].latencyP99, 0.25)
        history.append(RelayMetricsSample(), time: 3)
        XCTAssertEqual(history.points().map(\.time), [2, 3], "bounded to its capacity")
        XCTAssertNil(history.points()[1].latencyP50)
    }
}
