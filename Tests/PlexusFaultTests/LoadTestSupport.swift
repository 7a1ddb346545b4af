import Foundation
import PlexusFaultBed
import PlexusProcesses
import XCTest

extension FaultBed {
    /// Whether relay `observer` sees a member of `cluster` and a subscriber of `topic` on each of `nodes`.
    func seesLoad(on nodes: [String], at observer: Int, cluster: String = "load", topic: String = "load-events") -> Bool {
        guard let members = status(observer)?.members else { return false }
        return nodes.allSatisfy { node in
            members.contains { $0.node == node && $0.clusters.contains { $0.name == cluster } && $0.topics.contains(topic) }
        }
    }

    /// "RSS x MiB (peak y MiB), CPU z s" of relay `index`, for the measurement lines.
    func resources(_ index: Int) -> String {
        let name = relays[index].name
        guard let memory = processes.memory(name), let cpu = processes.cpuSeconds(name) else { return "relay \(index) not running" }
        return String(format: "RSS %.0f MiB (peak %.0f MiB), CPU %.1f s", Double(memory.rss) / 1_048_576,
                      Double(memory.peak) / 1_048_576, cpu)
    }
}

/// `summary[key]` as an Int (0 when absent).
func count(_ summary: [String: Any], _ key: String) -> Int { (summary[key] as? Int) ?? 0 }

/// The failure counts of `summary[key]` (a reason → count object), empty when none.
func failures(_ summary: [String: Any], _ key: String) -> [String: Int] { (summary[key] as? [String: Int]) ?? [:] }
