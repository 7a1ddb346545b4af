import NIOHTTP1

/// What a request asks for, decided from its method and target alone (pure; unit-tested).
public enum HTTPRoute: Equatable, Sendable {
    case health
    case ready
    case metrics
    case status
    case members
    case connections
    case history
    case dashboard
    case notFound
    /// The endpoint is read-only: anything but GET and HEAD.
    case methodNotAllowed

    /// Routes `method` + `target` (path with an optional query, which is ignored).
    public static func of(method: HTTPMethod, target: String) -> HTTPRoute {
        guard method == .GET || method == .HEAD else { return .methodNotAllowed }
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        switch path {
        case "/healthz": return .health
        case "/readyz": return .ready
        case "/metrics": return .metrics
        case "/v1/status": return .status
        case "/v1/members": return .members
        case "/v1/connections": return .connections
        case "/v1/history": return .history
        case "/", "/index.html": return .dashboard
        default: return .notFound
        }
    }
}

/// One response: status, content type and body. `HEAD` sends the same head without the body.
public struct HTTPReply: Sendable, Equatable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: [UInt8]
    /// Headers beyond the ones every reply gets (`Location`, `Set-Cookie`, `WWW-Authenticate`).
    public var extraHeaders: [String: String] = [:]

    public init(status: HTTPResponseStatus, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    static let json = "application/json; charset=utf-8"
    static let text = "text/plain; charset=utf-8"
    /// Prometheus text exposition format 0.0.4.
    static let prometheus = "text/plain; version=0.0.4; charset=utf-8"
    static let html = "text/html; charset=utf-8"

    static func json(_ status: HTTPResponseStatus, _ text: String) -> HTTPReply {
        HTTPReply(status: status, contentType: json, body: Array(text.utf8))
    }

    /// A JSON object `{"error": ...}` (or another key) with `message` escaped as a JSON string.
    static func jsonMessage(_ status: HTTPResponseStatus, key: String = "error", _ message: String) -> HTTPReply {
        json(status, "{\"\(key)\":\(jsonString(message))}\n")
    }
}

/// `text` as a JSON string literal, quotes included.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
