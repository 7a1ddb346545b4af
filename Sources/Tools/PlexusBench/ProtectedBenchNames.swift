import NIOConcurrencyHelpers

/// The names of a `plexus-bench --relays 2 --protected` run: each relay holds a cluster key for
/// every cluster name and a topic key for every topic name the run will use (`keyOptions`), and
/// each measurement takes the next unused one (`next`), so it never meets a service a previous
/// measurement closed. See Docs/benchmarks.md ("Protected clusters").
final class ProtectedBenchNames: Sendable {
    static let clusters = ["bench-latency", "bench-throughput", "bench-broadcast", "bench-tunnel"]
    static let topics = ["bench-topic-64", "bench-topic-1024"]
    /// Names prepared per base: enough for every run of every measurement that uses the base.
    let perBase: Int
    private let used = NIOLockedValueBox<[String: Int]>([:])

    init(repeats: Int) { perBase = 4 * max(1, repeats) }

    func next(_ base: String) -> String? {
        used.withLockedValue { used in
            let index = used[base, default: 0]
            guard index < perBase else { return nil }
            used[base] = index + 1
            return "\(base)-p\(index)"
        }
    }

    /// `--cluster-key NAME=FILE` / `--topic-key NAME=FILE` for every name, all under `keyFile`.
    func keyOptions(keyFile: String) -> [String] {
        var options: [String] = []
        for index in 0..<perBase {
            for base in Self.clusters { options += ["--cluster-key", "\(base)-p\(index)=\(keyFile)"] }
            for base in Self.topics { options += ["--topic-key", "\(base)-p\(index)=\(keyFile)"] }
        }
        return options
    }
}
