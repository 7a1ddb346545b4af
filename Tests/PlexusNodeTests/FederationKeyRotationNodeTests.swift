import Foundation
import NIOCore
import Plexus
import PlexusCrypto
import PlexusFederation
import PlexusGateway
import PlexusNode
import XCTest

/// Rotating the federation key without dropping a link (`GatewayEndpoint.updateFederationKeyring`,
/// what SIGHUP does in `plexus relay`): established links keep their sessions; new handshakes use
/// the new keyring.
extension FederationNodeTests {
    func testFederationKeyRotationKeepsLinksAndAdmitsTheNewKey() async throws {
        let oldKey = NetworkKey.generate(), newKey = NetworkKey.generate()
        let gatewayA = try await startGateway("a", key: NetworkKey.generate(), federationKey: oldKey)
        let gatewayB = try await startGateway("b", key: NetworkKey.generate(), federationKey: oldKey, joining: gatewayA)
        let echo = CountingEcho()
        connections.append(try await Connection.register(cluster: "echo", handler: echo, port: gatewayB.node.relay.port))
        let learned = await eventually(10) { routes(.cluster, "echo", seenBy: gatewayA.node) == 1 }
        XCTAssertTrue(learned, "a and b linked with the old key")
        let linkBefore = try await gatewayA.endpoint.status().links.first { $0.overlay == OverlayName("b") }?.link
        XCTAssertNotNil(linkBefore)

        // A gateway that has only the new key is refused while a knows only the old one.
        let gatewayC = try await startGateway("c", key: NetworkKey.generate(), federationKey: newKey, joining: gatewayA)
        let refused = await eventually(10) { ((try? await gatewayA.endpoint.status().unauthenticatedClosed) ?? 0) >= 1 }
        XCTAssertTrue(refused, "c's handshakes fail before the rotation")

        // Step 2 of a rotation on both: the new key primary, the old one accepted; then step 3 on b.
        gatewayA.endpoint.updateFederationKeyring(Keyring(primary: newKey, secondary: [oldKey]))
        gatewayB.endpoint.updateFederationKeyring(Keyring(primary: newKey, secondary: [oldKey]))
        XCTAssertEqual(gatewayA.endpoint.federationKeyFingerprint, newKey.fingerprint)
        let admitted = await eventually(10) {
            ((try? await gatewayA.endpoint.status().links.contains { $0.overlay == OverlayName("c") }) ?? false)
        }
        XCTAssertTrue(admitted, "c links once a holds the new key")
        gatewayB.endpoint.updateFederationKeyring(Keyring(primary: newKey))
        _ = gatewayC

        let linkAfter = try await gatewayA.endpoint.status().links.first { $0.overlay == OverlayName("b") }?.link
        XCTAssertEqual(linkAfter, linkBefore, "the a–b link was never dropped")
        let client = try await connect(gatewayA.node)
        let reply = try await client.request("still", to: "echo", timeout: .seconds(2))
        XCTAssertEqual(reply, "still", "and still carries requests")
    }
}
