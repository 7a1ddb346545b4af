import PlexusSettings
import XCTest

final class LayeredSettingsTests: XCTestCase {
    let kinds: [String: SettingKind] = ["port": .integer, "dev": .boolean, "join": .list, "zone": .string, "handshake-timeout": .number]

    func file(_ text: String) -> (path: String, bytes: [UInt8]) { ("relay.json", Array(text.utf8)) }

    func testPrecedenceIsFlagThenEnvironmentThenFileThenDefault() throws {
        let settings = try LayeredSettings(kinds: kinds, configFile: file(#"{"port": 1, "zone": "file", "join": ["a:1", "b:2"]}"#),
                                           environment: ["PLEXUS_PORT": "2", "HOME": "/root"])
        XCTAssertEqual(settings.integer("port", flag: 3), 3)
        XCTAssertEqual(settings.integer("port", flag: nil), 2)
        XCTAssertEqual(settings.value("port", flag: nil)?.source, .environment("PLEXUS_PORT"))
        XCTAssertEqual(settings.string("zone", flag: nil), "file")
        XCTAssertEqual(settings.value("zone", flag: nil)?.source, .file("relay.json"))
        XCTAssertNil(settings.boolean("dev", flag: nil), "nothing set: the caller's default applies")
        XCTAssertEqual(settings.list("join", flag: []), ["a:1", "b:2"])
        XCTAssertEqual(settings.list("join", flag: ["c:3"]), ["c:3"])
    }

    func testEnvironmentValuesParseByKind() throws {
        let settings = try LayeredSettings(kinds: kinds, configFile: nil, environment: [
            "PLEXUS_DEV": "yes", "PLEXUS_JOIN": "a:1, b:2", "PLEXUS_HANDSHAKE_TIMEOUT": "2.5", "PLEXUS_TEST_ARTIFACTS": "/tmp",
        ])
        XCTAssertEqual(settings.boolean("dev", flag: nil), true)
        XCTAssertEqual(settings.list("join", flag: []), ["a:1", "b:2"])
        XCTAssertEqual(settings.number("handshake-timeout", flag: nil), 2.5)
        XCTAssertEqual(settings.unknownEnvironment, ["PLEXUS_TEST_ARTIFACTS"])
        XCTAssertThrowsError(try LayeredSettings(kinds: kinds, configFile: nil, environment: ["PLEXUS_PORT": "eighty"])) { error in
            XCTAssertEqual("\(error)", "environment PLEXUS_PORT=eighty: expected an integer")
        }
    }

    func testUnknownKeysAndWrongTypesNameTheKey() {
        XCTAssertThrowsError(try LayeredSettings(kinds: kinds, configFile: file(#"{"prot": 1}"#), environment: [:])) { error in
            XCTAssertTrue("\(error)".hasPrefix("config file relay.json: unknown key 'prot'"), "\(error)")
        }
        XCTAssertThrowsError(try LayeredSettings(kinds: kinds, configFile: file(#"{"port": "55555"}"#), environment: [:])) { error in
            XCTAssertEqual("\(error)", "config file relay.json: key 'port': expected an integer")
        }
        XCTAssertThrowsError(try LayeredSettings(kinds: kinds, configFile: file(#"{"dev": 1}"#), environment: [:])) { error in
            XCTAssertEqual("\(error)", "config file relay.json: key 'dev': expected true or false")
        }
        XCTAssertThrowsError(try LayeredSettings(kinds: kinds, configFile: file(#"{"join": [1]}"#), environment: [:]))
        XCTAssertThrowsError(try LayeredSettings(kinds: kinds, configFile: file("[1, 2]"), environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("expected a JSON object"), "\(error)")
        }
        let large = file("{\"zone\": \"" + String(repeating: "x", count: LayeredSettings.maximumFileBytes) + "\"}")
        XCTAssertThrowsError(try LayeredSettings(kinds: kinds, configFile: large, environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("larger than"), "\(error)")
        }
    }

    func testEnvironmentNames() {
        XCTAssertEqual(LayeredSettings.environmentName("peer-port"), "PLEXUS_PEER_PORT")
        XCTAssertEqual(LayeredSettings.environmentName("outbound-queue-limit"), "PLEXUS_OUTBOUND_QUEUE_LIMIT")
    }
}
