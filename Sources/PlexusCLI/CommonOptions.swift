import ArgumentParser
import Foundation
import Logging
import NIOCore
import Plexus

/// Options every client command shares: where the local relay listens and how much to log.
struct ClientOptions: ParsableArguments {
    @Option(help: "Port of the local relay's client endpoint.")
    var port: Int = 55555

    @Option(help: "Host of the local relay (loopback).")
    var host: String = "127.0.0.1"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: LogLevelArgument = .init(level: .warning)
}

extension ClientOptions {
    /// Connects as a plain client, runs `body`, and closes the connection gracefully.
    func withConnection(label: String, _ body: (Connection) async throws -> Void) async throws {
        let logger = Logs.bootstrap(logLevel.level, label: label)
        let connection = try await Connection.connect(host: host, port: port, logger: logger)
        do {
            try await body(connection)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
}

/// A `Logger.Level` parsed from the command line.
struct LogLevelArgument: ExpressibleByArgument {
    let level: Logger.Level

    init(level: Logger.Level) { self.level = level }

    init?(argument: String) {
        guard let level = Logger.Level(rawValue: argument.lowercased()) else { return nil }
        self.level = level
    }

    var defaultValueDescription: String { level.rawValue }
    static var allValueStrings: [String] { Logger.Level.allCases.map(\.rawValue) }
}

/// Sets up swift-log once for the process, writing to standard error as text lines or, with
/// `.json`, one JSON object per line (`JSONLogHandler`). swift-log stays the logging API.
enum Logs {
    static func bootstrap(_ level: Logger.Level, format: LogFormat = .text, label: String) -> Logger {
        LoggingSystem.bootstrap { name in
            switch format {
            case .text:
                var handler = StreamLogHandler.standardError(label: name)
                handler.logLevel = level
                return handler
            case .json:
                var handler = JSONLogHandler(label: name)
                handler.logLevel = level
                return handler
            }
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

/// Turns a DATA argument into a payload: the text itself, or standard input for "-".
enum Payload {
    static func from(argument: String) -> ByteBuffer {
        if argument == "-" {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            return ByteBuffer(bytes: data)
        }
        return ByteBuffer(string: argument)
    }

    static func write(_ buffer: ByteBuffer, newline: Bool = true) {
        var output = Data(buffer.readableBytesView)
        if newline { output.append(0x0a) }
        FileHandle.standardOutput.write(output)
    }
}

/// Turns milliseconds from the command line into a `Duration`, refusing non-positive values.
func positiveMilliseconds(_ value: Int, option: String) throws -> Duration {
    guard value >= 1 else { throw ValidationError("--\(option) must be at least 1 millisecond") }
    return .milliseconds(value)
}

/// Writes a line to standard error.
enum FileHandleOutput {
    static func error(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
