import NIOHTTP1

/// Who may read the endpoint's data: everything but `/healthz` and `/readyz` (which reveal
/// nothing and serve as probes) and the replies that carry no data (404, 405).
///
/// Guarantees: with `.bearer`, a data route is answered only when the request presents the
/// token, as `Authorization: Bearer TOKEN` or as the `plexus_http_token` cookie the dashboard
/// sets; `verify` is the only comparison (the relay passes a constant-time one). A dashboard
/// visit with `?token=TOKEN` that verifies is redirected to `/` with the cookie set (HttpOnly,
/// SameSite=Strict), so the token leaves the address bar. The decision is pure.
public struct HTTPAccess: Sendable {
    /// The cookie the dashboard's requests carry.
    public static let cookieName = "plexus_http_token"
    /// Longest token we look at (a relay's token is 64 hex digits); longer ones are refused unread.
    public static let maximumTokenLength = 256

    let verify: (@Sendable (String) -> Bool)?

    /// Every route open to anyone who can connect (`plexus relay --http-auth off`).
    public static let open = HTTPAccess(verify: nil)

    /// Data routes need a token that `verify` accepts.
    public static func bearer(_ verify: @escaping @Sendable (String) -> Bool) -> HTTPAccess {
        HTTPAccess(verify: verify)
    }

    public var requiresToken: Bool { verify != nil }

    /// What to do with a request for `route` with `target` and `headers`.
    public func decide(route: HTTPRoute, target: String, headers: HTTPHeaders) -> HTTPAccessDecision {
        guard let verify, Self.isProtected(route) else { return .allow }
        if let presented = Self.bearerToken(headers) ?? Self.cookieToken(headers), verify(presented) {
            return .allow
        }
        if route == .dashboard, let presented = Self.queryToken(target), verify(presented) {
            return .redirect(HTTPReply.redirectSettingToken(presented))
        }
        return .deny(HTTPReply.unauthorized)
    }

    /// Every route that shows data about the relay.
    public static func isProtected(_ route: HTTPRoute) -> Bool {
        switch route {
        case .health, .ready, .notFound, .methodNotAllowed: false
        case .metrics, .status, .members, .connections, .history, .dashboard: true
        }
    }

    static func bearerToken(_ headers: HTTPHeaders) -> String? {
        for value in headers["Authorization"] {
            let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { continue }
            let token = parts[1].trimmingSpaces
            if !token.isEmpty, token.utf8.count <= maximumTokenLength { return token }
        }
        return nil
    }

    static func cookieToken(_ headers: HTTPHeaders) -> String? {
        for header in headers["Cookie"] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, parts[0].trimmingSpaces == cookieName else { continue }
                let token = parts[1].trimmingSpaces
                if !token.isEmpty, token.utf8.count <= maximumTokenLength { return token }
            }
        }
        return nil
    }

    static func queryToken(_ target: String) -> String? {
        guard let question = target.firstIndex(of: "?") else { return nil }
        for pair in target[target.index(after: question)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == "token" else { continue }
            let token = String(parts[1])
            // A relay's token is hex: nothing to percent-decode; anything else cannot match.
            if !token.isEmpty, token.utf8.count <= maximumTokenLength, token.allSatisfy(\.isHexDigit) { return token }
        }
        return nil
    }
}

/// The outcome of `HTTPAccess.decide`.
public enum HTTPAccessDecision: Equatable, Sendable {
    case allow
    /// 401: no token, or a wrong one.
    case deny(HTTPReply)
    /// The dashboard with a good `?token=`: 303 to `/`, setting the cookie.
    case redirect(HTTPReply)
}

extension HTTPReply {
    static let unauthorized: HTTPReply = {
        var reply = HTTPReply.jsonMessage(
            .unauthorized,
            "this endpoint needs the relay's token: send 'Authorization: Bearer TOKEN' with the token from the relay's "
                + "--http-token-file (readable only by the relay's user), or open the dashboard once as /?token=TOKEN")
        reply.extraHeaders = ["WWW-Authenticate": "Bearer realm=\"plexus\""]
        return reply
    }()

    static func redirectSettingToken(_ token: String) -> HTTPReply {
        var reply = HTTPReply(status: .seeOther, contentType: text, body: Array("see /\n".utf8))
        reply.extraHeaders = [
            "Location": "/",
            "Set-Cookie": "\(HTTPAccess.cookieName)=\(token); Path=/; HttpOnly; SameSite=Strict",
        ]
        return reply
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
