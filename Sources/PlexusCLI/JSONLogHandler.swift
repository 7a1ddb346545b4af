import Foundation
import Logging

/// `--log-format`: text lines (swift-log's `StreamLogHandler`) or JSON lines.
enum LogFormat: String, Sendable {
    case text, json
}

/// A swift-log handler writing one JSON object per entry to standard error:
/// `{"time":"2026-12-07T19:01:02.345Z","level":"info","label":"plexus.relay","message":"...","source":"PlexusNode",
/// "metadata":{"key":"value"}}` (keys sorted, metadata values as strings), so log shippers
/// parse it without a pattern.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String) { self.label = label }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = self.metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var entry: [String: Any] = [
            "time": Self.timestamp(), "level": event.level.rawValue, "label": label,
            "message": event.message.description, "source": event.source,
        ]
        if !merged.isEmpty { entry["metadata"] = merged.mapValues { Self.plain($0) } }
        guard var data = try? JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys]) else { return }
        data.append(0x0a)
        FileHandle.standardError.write(data)
    }

    static func plain(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let items): items.map { plain($0) }
        case .dictionary(let dictionary): dictionary.mapValues { plain($0) }
        }
    }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}
