import Foundation
@testable import PlexusCLI
import PlexusCrypto
import PlexusSettings
import XCTest

/// The federation settings layered like every other (`GatewayOptions`): flag > `PLEXUS_*`
/// environment > config file, checked after layering; and the SIGHUP reload of the keyring.
final class GatewayOptionsTests: XCTestCase {
    func settings(file: String? = nil, environment: [String: String] = [:]) throws -> LayeredSettings {
        try LayeredSettings(kinds: RelayOptions.kinds, configFile: file.map { ("relay.json", Array($0.utf8)) }, environment: environment,
                            ignoredEnvironment: RelayOptions.ignoredEnvironment)
    }

    func testEveryGatewayFlagHasAnEnvironmentVariableAndAConfigKey() throws {
        let fromEnvironment = try GatewayOptions.resolve(.init(), settings: settings(environment: [
            "PLEXUS_OVERLAY": "eu", "PLEXUS_GATEWAY_PORT": "55560", "PLEXUS_GATEWAY_HOST": "10.1.0.5",
            "PLEXUS_GATEWAY_JOIN": "us-gw-1:55560, us-gw-2:55560", "PLEXUS_FEDERATION_KEY": "/etc/plexus/federation.key",
            "PLEXUS_ACCEPT_FEDERATION_KEY": "/etc/plexus/federation-old.key",
        ]))
        XCTAssertEqual(fromEnvironment, GatewayOptions(overlay: "eu", gatewayPort: 55560, gatewayHost: "10.1.0.5",
                                                       gatewayJoins: ["us-gw-1:55560", "us-gw-2:55560"],
                                                       federationKey: "/etc/plexus/federation.key",
                                                       acceptFederationKeys: ["/etc/plexus/federation-old.key"]))
        let file = """
            {"overlay": "us", "gateway-port": 1000, "gateway-host": "0.0.0.0", "gateway-join": ["eu-gw:55560"],
             "federation-key": "f.key", "accept-federation-key": ["old.key"]}
            """
        let fromFile = try GatewayOptions.resolve(.init(), settings: settings(file: file))
        XCTAssertEqual(fromFile, GatewayOptions(overlay: "us", gatewayPort: 1000, gatewayHost: "0.0.0.0", gatewayJoins: ["eu-gw:55560"],
                                                federationKey: "f.key", acceptFederationKeys: ["old.key"]))
        // flag > environment > file
        let layered = try GatewayOptions.resolve(.init(gatewayPort: 3000), settings: settings(file: file, environment: ["PLEXUS_OVERLAY": "ap"]))
        XCTAssertEqual(layered.gatewayPort, 3000)
        XCTAssertEqual(layered.overlay, "ap")
        XCTAssertEqual(layered.federationKey, "f.key")
    }

    func testTheCombinationIsCheckedAfterLayeringAndErrorsNameTheSource() throws {
        // A port on the command line and the key from the environment are one valid configuration.
        let split = try GatewayOptions.resolve(.init(gatewayPort: 55560), settings: settings(environment: ["PLEXUS_FEDERATION_KEY": "k"]))
        XCTAssertEqual(split.federationKey, "k")
        let cases: [(GatewayOptions.Flags, String?, [String: String], String)] = [
            (.init(), nil, ["PLEXUS_GATEWAY_PORT": "55560"], "--gateway-port (from environment PLEXUS_GATEWAY_PORT) needs --federation-key"),
            (.init(), #"{"federation-key": "k"}"#, [:], "--federation-key (from config file relay.json) needs --gateway-port"),
            (.init(gatewayPort: 1, federationKey: "k"), #"{"gateway-join": ["nohost"]}"#, [:],
             "--gateway-join (from config file relay.json) nohost: expected HOST:PORT"),
            (.init(), nil, ["PLEXUS_OVERLAY": "EU"], "--overlay (from environment PLEXUS_OVERLAY) EU: 1 to 64 characters"),
            (.init(gatewayPort: 70000, federationKey: "k"), nil, [:], "--gateway-port must be between 0 and 65535"),
        ]
        for (flags, file, environment, expected) in cases {
            XCTAssertThrowsError(try GatewayOptions.resolve(flags, settings: settings(file: file, environment: environment)), expected) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) does not contain \(expected)")
            }
        }
    }

    func testReloadReadsTheConfigFileAndTheKeyFilesAgain() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plexus-federation-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let old = directory.appendingPathComponent("old.key").path, new = directory.appendingPathComponent("new.key").path
        let oldKey = try NetworkKeyFile.generate(at: old), newKey = try NetworkKeyFile.generate(at: new)
        let config = directory.appendingPathComponent("relay.json").path
        try Data(#"{"gateway-port": 55560, "federation-key": "\#(old)"}"#.utf8).write(to: URL(fileURLWithPath: config))
        let (_, before) = try FederationKeyReloader.load(config: config, flags: .init(), environment: [:])
        XCTAssertEqual(before.primary.fingerprint, oldKey.fingerprint)
        XCTAssertEqual(before.secondary.count, 0)

        try Data(#"{"gateway-port": 55560, "federation-key": "\#(new)", "accept-federation-key": ["\#(old)"]}"#.utf8)
            .write(to: URL(fileURLWithPath: config))
        let (_, after) = try FederationKeyReloader.load(config: config, flags: .init(), environment: [:])
        XCTAssertEqual(after.primary.fingerprint, newKey.fingerprint)
        XCTAssertEqual(after.secondary.map(\.fingerprint), [oldKey.fingerprint])

        try Data(#"{"gateway-port": 55560, "federation-key": "\#(directory.path)/missing.key"}"#.utf8).write(to: URL(fileURLWithPath: config))
        XCTAssertThrowsError(try FederationKeyReloader.load(config: config, flags: .init(), environment: [:]), "a missing key file fails the reload")
    }
}
