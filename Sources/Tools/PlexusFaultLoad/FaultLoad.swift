// `PlexusFaultLoad`: the traffic and the floods of the fault scenarios and the soak, run inside a
// relay's network namespace (`ip netns exec`) by `PlexusFaultBed`. Not shipped.
//
//   PlexusFaultLoad member  --port P --cluster C --topic T [--seconds S]
//   PlexusFaultLoad drive   --port P --cluster C --topic T --id ID [--requests N] [--concurrency K]
//                           [--events M] [--broadcasts B] [--interval-ms I] [--tunnels T] [--tunnel-bytes BYTES]
//                           [--seconds S]
//   PlexusFaultLoad latency --port P --cluster C --count N [--interval-ms I]
//   PlexusFaultLoad flood   --kind garbage|partial|idle|http|datagrams --host H --port P --connections N --seconds S
//
// A member prints one line per request ("Q payload"), broadcast ("B payload") and event
// ("E payload") it receives; `drive` and `latency` print a summary as one JSON object per line
// ("S {...}" every 5 s, "FINAL {...}" at the end); `flood` prints what it sent. Every run is
// bounded by `--seconds` (default 600).
import Foundation
import Synchronization

@main
enum FaultLoad {
    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let command = arguments.first else { return usage("no command") }
        arguments.removeFirst()
        let options = Options(arguments)
        do {
            switch command {
            case "member": try await LoadMember.run(options)
            case "drive": try await LoadDriver.run(options)
            case "latency": try await LatencyProbe.run(options)
            case "flood": try Flood.run(options)
            default: usage("unknown command \(command)")
            }
        } catch {
            FileHandle.standardError.write(Data("PlexusFaultLoad \(command): \(error)\n".utf8))
            exit(1)
        }
    }

    static func usage(_ problem: String) {
        FileHandle.standardError.write(Data("PlexusFaultLoad: \(problem); commands: member, drive, latency, flood\n".utf8))
        exit(2)
    }
}

/// `--name value` pairs from the command line.
struct Options {
    private var values: [String: String] = [:]

    init(_ arguments: [String]) {
        var index = 0
        while index < arguments.count {
            let name = arguments[index]
            if name.hasPrefix("--"), index + 1 < arguments.count {
                values[String(name.dropFirst(2))] = arguments[index + 1]
                index += 2
            } else {
                index += 1
            }
        }
    }

    func string(_ name: String, _ fallback: String) -> String { values[name] ?? fallback }
    func int(_ name: String, _ fallback: Int) -> Int { values[name].flatMap(Int.init) ?? fallback }
    func double(_ name: String, _ fallback: Double) -> Double { values[name].flatMap(Double.init) ?? fallback }
}

/// Whole lines to standard output, one writer at a time, written at once (the file is read
/// while the process runs).
final class LineOutput: Sendable {
    static let shared = LineOutput()
    private let lock = Mutex(())

    func line(_ text: String) {
        lock.withLock { _ in FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
    }
}

/// A JSON object line from `fields` (keys sorted, values numbers, strings or nested objects).
func jsonLine(_ fields: [String: Any]) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
}
