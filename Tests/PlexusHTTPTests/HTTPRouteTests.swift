import NIOHTTP1
import PlexusHTTP
import XCTest

final class HTTPRouteTests: XCTestCase {
    func testEveryPathRoutes() {
        let expected: [String: HTTPRoute] = [
            "/healthz": .health, "/readyz": .ready, "/metrics": .metrics, "/v1/status": .status,
            "/v1/members": .members, "/v1/connections": .connections, "/v1/history": .history, "/": .dashboard,
            "/index.html": .dashboard, "/metrics?name=x": .metrics, "/nope": .notFound, "": .notFound, "/healthz/": .notFound,
        ]
        for (target, route) in expected {
            XCTAssertEqual(HTTPRoute.of(method: .GET, target: target), route, target)
        }
        XCTAssertEqual(HTTPRoute.of(method: .HEAD, target: "/readyz"), .ready)
    }

    func testTheEndpointIsReadOnly() {
        for method in [HTTPMethod.POST, .PUT, .DELETE, .PATCH] {
            XCTAssertEqual(HTTPRoute.of(method: method, target: "/healthz"), .methodNotAllowed)
        }
    }

    func testListenAddresses() throws {
        XCTAssertEqual(try HTTPListenAddress.parse("off"), .off)
        XCTAssertEqual(try HTTPListenAddress.parse("0.0.0.0:8222"), .address(host: "0.0.0.0", port: 8222))
        XCTAssertEqual(try HTTPListenAddress.parse("[::1]:55580"), .address(host: "::1", port: 55580))
        XCTAssertEqual(try HTTPListenAddress.parse(":9000"), .address(host: "127.0.0.1", port: 9000))
        XCTAssertEqual(try HTTPListenAddress.parse("0.0.0.0:1").connectHost, "127.0.0.1")
        XCTAssertThrowsError(try HTTPListenAddress.parse("localhost")) { error in
            XCTAssertTrue("\(error)".contains("HOST:PORT"), "\(error)")
        }
        XCTAssertThrowsError(try HTTPListenAddress.parse("127.0.0.1:70000")) { error in
            XCTAssertTrue("\(error)".contains("between 0 and 65535"), "\(error)")
        }
    }

    func testReadinessRule() {
        XCTAssertEqual(HealthState.evaluate(serving: true, draining: false, development: false, expectsPeers: true, joined: false).ready, false)
        XCTAssertEqual(HealthState.evaluate(serving: true, draining: false, development: false, expectsPeers: true, joined: true),
                       HealthState(serving: true, ready: true))
        XCTAssertEqual(HealthState.evaluate(serving: true, draining: false, development: true, expectsPeers: false, joined: false).ready, true)
        XCTAssertEqual(HealthState.evaluate(serving: true, draining: false, development: false, expectsPeers: false, joined: false).ready, true)
        let draining = HealthState.evaluate(serving: true, draining: true, development: true, expectsPeers: false, joined: true)
        XCTAssertEqual(draining.serving, true)
        XCTAssertEqual(draining.ready, false)
        XCTAssertEqual(draining.reason, HealthState.drainingReason)
        XCTAssertEqual(HealthState.evaluate(serving: false, draining: false, development: true, expectsPeers: false, joined: true).serving, false)
    }
}
