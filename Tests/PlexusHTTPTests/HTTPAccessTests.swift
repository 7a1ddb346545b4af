import Logging
import NIOHTTP1
import PlexusHTTP
import XCTest

/// Defect 9 (local access): with a token, only `/healthz` and `/readyz` answer without it; the
/// decision unit-tested, then the endpoint on a loopback socket.
final class HTTPAccessTests: XCTestCase {
    static let token = String(repeating: "ab", count: 32)
    let access = HTTPAccess.bearer { $0 == HTTPAccessTests.token }

    private func headers(_ pairs: [(String, String)]) -> HTTPHeaders { HTTPHeaders(pairs) }

    func testDataRoutesNeedTheTokenAndProbesDoNot() {
        for route in [HTTPRoute.metrics, .status, .members, .connections, .history, .dashboard] {
            XCTAssertTrue(HTTPAccess.isProtected(route), "\(route)")
            guard case .deny(let reply) = access.decide(route: route, target: "/", headers: headers([])) else {
                return XCTFail("\(route) answered without a token")
            }
            XCTAssertEqual(reply.status, .unauthorized)
            XCTAssertEqual(reply.extraHeaders["WWW-Authenticate"], "Bearer realm=\"plexus\"")
            XCTAssertEqual(access.decide(route: route, target: "/", headers: headers([("Authorization", "Bearer \(Self.token)")])), .allow)
            XCTAssertEqual(access.decide(route: route, target: "/", headers: headers([("authorization", "bearer  \(Self.token) ")])), .allow)
            XCTAssertEqual(access.decide(route: route, target: "/", headers: headers([("Cookie", "a=b; plexus_http_token=\(Self.token)")])), .allow)
            guard case .deny = access.decide(route: route, target: "/", headers: headers([("Authorization", "Bearer \(Self.token)0")])) else {
                return XCTFail("\(route) answered a wrong token")
            }
            guard case .deny = access.decide(route: route, target: "/", headers: headers([("Authorization", "Basic \(Self.token)")])) else {
                return XCTFail("\(route) answered a Basic credential")
            }
        }
        for route in [HTTPRoute.health, .ready, .notFound, .methodNotAllowed] {
            XCTAssertEqual(access.decide(route: route, target: "/", headers: headers([])), .allow, "\(route)")
        }
        XCTAssertEqual(HTTPAccess.open.decide(route: .status, target: "/v1/status", headers: headers([])), .allow)
    }

    func testTheDashboardTakesTheTokenOnceFromTheQueryAndSetsACookie() {
        guard case .redirect(let reply) = access.decide(route: .dashboard, target: "/?token=\(Self.token)", headers: headers([])) else {
            return XCTFail("no redirect")
        }
        XCTAssertEqual(reply.status, .seeOther)
        XCTAssertEqual(reply.extraHeaders["Location"], "/")
        XCTAssertEqual(reply.extraHeaders["Set-Cookie"], "plexus_http_token=\(Self.token); Path=/; HttpOnly; SameSite=Strict")
        guard case .deny = access.decide(route: .dashboard, target: "/?token=abab", headers: headers([])) else {
            return XCTFail("a wrong query token was accepted")
        }
        guard case .deny = access.decide(route: .status, target: "/v1/status?token=\(Self.token)", headers: headers([])) else {
            return XCTFail("the query token is for the dashboard only")
        }
        let long = String(repeating: "a", count: HTTPAccess.maximumTokenLength + 1)
        guard case .deny = HTTPAccess.bearer { _ in true }.decide(route: .status, target: "/", headers: headers([("Authorization", "Bearer \(long)")])) else {
            return XCTFail("an over-long token was looked at")
        }
    }

    func testTheEndpointAnswers401WithoutOrWithAWrongTokenAnd200WithIt() async throws {
        let endpoint = try await HTTPEndpoint.start(host: "127.0.0.1", port: 0, source: HTTPEndpointTests.source(), access: access,
                                                    logger: Logger(label: "test"))
        do {
            let port = endpoint.port
            for path in ["/v1/status", "/metrics", "/", "/v1/members", "/v1/connections", "/v1/history"] {
                let none = try await HTTPClient.get(host: "127.0.0.1", port: port, path: path)
                XCTAssertEqual(none.status, 401, path)
                XCTAssertFalse(none.text.contains("abc"), "no data in a refusal")
                let wrong = try await HTTPClient.get(host: "127.0.0.1", port: port, path: path,
                                                     headers: ["Authorization": "Bearer " + String(repeating: "cd", count: 32)])
                XCTAssertEqual(wrong.status, 401, path)
                let right = try await HTTPClient.get(host: "127.0.0.1", port: port, path: path, headers: ["Authorization": "Bearer \(Self.token)"])
                XCTAssertEqual(right.status, 200, path)
            }
            let status = try await HTTPClient.get(host: "127.0.0.1", port: port, path: "/v1/status", headers: ["Authorization": "Bearer \(Self.token)"])
            XCTAssertEqual(status.text, "{\"node\":\"abc\"}\n")
            for path in ["/healthz", "/readyz"] {
                let open = try await HTTPClient.get(host: "127.0.0.1", port: port, path: path)
                XCTAssertEqual(open.status, 200, path)
            }
            let redirect = try await HTTPClient.get(host: "127.0.0.1", port: port, path: "/?token=\(Self.token)")
            XCTAssertEqual(redirect.status, 303)
            let cookie = try await HTTPClient.get(host: "127.0.0.1", port: port, path: "/", headers: ["Cookie": "plexus_http_token=\(Self.token)"])
            XCTAssertEqual(cookie.status, 200)
            XCTAssertTrue(cookie.text.contains("<html"), "the dashboard page")
        } catch {
            await endpoint.close()
            throw error
        }
        await endpoint.close()
    }
}
