import NIOConcurrencyHelpers
import NIOCore
import PlexusTelemetry

/// One point of the dashboard's charts: totals and gauges at `time`; the page turns successive
/// totals into rates.
public struct HistoryPoint: Sendable, Equatable {
    /// Unix time in milliseconds.
    public var time: Int64
    public var clients: Int
    public var pendingRequests: Int
    public var queuedBytes: Int
    public var relayFramesSent: Int
    public var relayFramesReceived: Int
    public var dropped: Int
    /// Totals from the core's traffic counters (nil until the core keeps them).
    public var requests: UInt64?
    public var events: UInt64?
    public var broadcasts: UInt64?
    public var slowConsumers: UInt64?
    /// Latency quantiles over the interval since the previous point, in milliseconds (bucket
    /// upper bounds; nil without traffic counters or without requests in the interval).
    public var latencyP50: Double?
    public var latencyP99: Double?
}

/// The last `capacity` samples of the relay's metrics, for the dashboard's "last minutes" charts.
///
/// Guarantees: bounded (a ring of `capacity` points, 120 × 5 s = 10 minutes by default); one
/// sample per interval, taken on the HTTP endpoint's loop through the `StatusSource`, never on
/// the relay's hot path.
public final class MetricsHistory: Sendable {
    private let capacity: Int
    private let state: NIOLockedValueBox<(points: [HistoryPoint], previous: LatencyHistogram?, task: RepeatedTask?)>

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        state = NIOLockedValueBox(([], nil, nil))
    }

    public func points() -> [HistoryPoint] { state.withLockedValue { $0.points } }

    /// Adds a point made from `sample` taken at `time` (unix ms), dropping the oldest beyond capacity.
    public func append(_ sample: RelayMetricsSample, time: Int64) {
        state.withLockedValue { state in
            var point = HistoryPoint(
                time: time, clients: sample.clientsConnected, pendingRequests: sample.pendingRequests,
                queuedBytes: sample.clientQueuedBytes + sample.relayQueuedBytes,
                relayFramesSent: sample.relayFramesSent, relayFramesReceived: sample.relayFramesReceived,
                dropped: sample.droppedEvents + sample.droppedBroadcasts)
            if let traffic = sample.traffic {
                point.requests = RequestOutcome.allCases.reduce(0) { $0 + traffic.requests($1) }
                point.events = traffic.eventsIn
                point.broadcasts = traffic.broadcastsIn
                point.slowConsumers = traffic.slowConsumersDisconnected
                let interval = Self.difference(traffic.requestLatency, since: state.previous)
                point.latencyP50 = Self.quantile(0.5, of: interval)
                point.latencyP99 = Self.quantile(0.99, of: interval)
                state.previous = traffic.requestLatency
            }
            state.points.append(point)
            if state.points.count > capacity { state.points.removeFirst(state.points.count - capacity) }
        }
    }

    /// Bucket counts of `current` minus those of `previous` (nil: all of `current`).
    static func difference(_ current: LatencyHistogram, since previous: LatencyHistogram?) -> [UInt64] {
        guard let previous else { return current.bucketCounts }
        return zip(current.bucketCounts, previous.bucketCounts).map { $0 >= $1 ? $0 - $1 : $0 }
    }

    /// The upper bound (ms) of the bucket holding quantile `q` of `buckets`; nil when empty. The
    /// +Inf bucket reports the largest finite bound.
    static func quantile(_ q: Double, of buckets: [UInt64]) -> Double? {
        let total = buckets.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = UInt64((Double(total) * q).rounded(.up))
        var running: UInt64 = 0
        let bounds = LatencyHistogram.boundsNanoseconds
        for (index, count) in buckets.enumerated() {
            running += count
            if running >= max(1, rank) { return Double(bounds[min(index, bounds.count - 1)]) / 1e6 }
        }
        return Double(bounds[bounds.count - 1]) / 1e6
    }

    func startSampling(on loop: EventLoop, every interval: TimeAmount, source: StatusSource) {
        let task = loop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { [self] _ in
            Task {
                guard let sample = try? await source.metrics() else { return }
                self.append(sample, time: wallClockMilliseconds())
            }
        }
        state.withLockedValue { $0.task = task }
    }

    func stopSampling() {
        state.withLockedValue { state in
            state.task?.cancel()
            state.task = nil
        }
    }

    /// The points as JSON: `{"points":[{...}, ...]}` (absent values are null).
    static func json(_ points: [HistoryPoint]) -> String {
        func value<T>(_ optional: T?) -> String { optional.map { "\($0)" } ?? "null" }
        let items = points.map { p in
            "{\"time\":\(p.time),\"clients\":\(p.clients),\"pendingRequests\":\(p.pendingRequests),"
                + "\"queuedBytes\":\(p.queuedBytes),\"relayFramesSent\":\(p.relayFramesSent),"
                + "\"relayFramesReceived\":\(p.relayFramesReceived),\"dropped\":\(p.dropped),"
                + "\"requests\":\(value(p.requests)),\"events\":\(value(p.events)),\"broadcasts\":\(value(p.broadcasts)),"
                + "\"slowConsumers\":\(value(p.slowConsumers)),\"latencyP50\":\(value(p.latencyP50)),"
                + "\"latencyP99\":\(value(p.latencyP99))}"
        }
        return "{\"points\":[" + items.joined(separator: ",") + "]}\n"
    }
}
