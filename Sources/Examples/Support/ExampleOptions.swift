import Foundation

/// Where the examples find their relay: `--host H` / `--port P` anywhere on the command line,
/// else `PLEXUS_HOST` / `PLEXUS_PORT`, else `scripts/run.sh`'s relay on 127.0.0.1:55555.
/// The remaining arguments are the example's own.
public struct ExampleOptions: Sendable {
    public var host = "127.0.0.1"
    public var port = 55555
    public var arguments: [String] = []

    public init(_ commandLine: [String] = Array(CommandLine.arguments.dropFirst())) {
        let environment = ProcessInfo.processInfo.environment
        if let host = environment["PLEXUS_HOST"] { self.host = host }
        if let port = environment["PLEXUS_PORT"].flatMap(Int.init) { self.port = port }
        var rest = commandLine[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--host": if let value = rest.popFirst() { host = value }
            case "--port": if let value = rest.popFirst(), let number = Int(value) { port = number }
            default: arguments.append(argument)
            }
        }
    }
}

/// Prints to standard error (progress and diagnostics; standard output is for results).
public func printError(_ text: String, terminator: String = "\n") {
    var standardError = StandardError()
    print(text, terminator: terminator, to: &standardError)
}

private struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandle.standardError.write(Data(string.utf8))
    }
}
