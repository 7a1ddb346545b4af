import PlexusCrypto
import NIOCore
import PlexusMembership
@testable import PlexusOverlay
import XCTest

final class GossipSealTests: XCTestCase {
    let networkKey = try! NetworkKey(bytes: [UInt8](0..<32))
    let otherKey = try! NetworkKey(bytes: [UInt8](repeating: 7, count: 32))
    let nonce = [UInt8](100..<124)
    let time: Int64 = 1_790_000_000_000
    let payload = Array("plexus gossip".utf8)
    /// 10.0.0.7:55554, the receiver the golden datagram is sealed for.
    let destination = GossipDestination(address: [10, 0, 0, 7], port: 55554)!
    /// Another relay (same host, other port).
    let elsewhere = GossipDestination(address: [10, 0, 0, 7], port: 55555)!

    func hex(_ bytes: [UInt8]) -> String { hexString(bytes) }

    func testGoldenBytes() {
        let seal = GossipSeal(keyring: Keyring(primary: networkKey))
        // Key: BLAKE2b-256(key: network key, "plexus-gossip-v1"), cross-checked with Python hashlib;
        // sealed bytes cross-checked with libsodium called directly (ctypes) on the documented layout.
        let key = XChaChaKey.derive(from: networkKey)
        key.secret.withUnsafeBytes { XCTAssertEqual(hexString($0), "5c0d2323d88442061e8215763ebcf77f4f7e1098d4dcda5f157267bd4a109434") }
        // Associated data: 02 | 04 0a000007 d902 (version, IPv4 10.0.0.7, port 55554).
        XCTAssertEqual(hex(GossipSeal.associatedData(destination)), "02040a000007d902")
        let sealed = seal.seal(payload, to: destination, nonce: nonce, timestamp: time)
        XCTAssertEqual(sealed.count, payload.count + GossipSeal.overhead)
        XCTAssertEqual(GossipSeal.overhead, 49)
        XCTAssertEqual(hex(sealed), "026465666768696a6b6c6d6e6f707172737475767778797a7bc42f7002dc36af7c34f535f3e4c75374df5713c259e72e53133716c813fabb92b652090c60")
        var window = ReplayWindow()
        XCTAssertEqual(try seal.open(sealed, at: [elsewhere, destination], now: time + 5, window: &window), payload)
    }

    func testRejections() throws {
        let seal = GossipSeal(keyring: Keyring(primary: networkKey))
        let sealed = seal.seal(payload, to: destination, nonce: nonce, timestamp: time)

        func rejection(_ bytes: [UInt8], now: Int64? = nil, seal: GossipSeal? = nil, window: inout ReplayWindow) -> GossipSeal.Rejection? {
            do {
                _ = try (seal ?? self.seal(for: networkKey)).open(bytes, at: [destination], now: now ?? time, window: &window)
                return nil
            } catch { return error }
        }
        var window = ReplayWindow(window: 30_000)
        // Wrong key.
        let other = GossipSeal(keyring: Keyring(primary: otherKey))
        XCTAssertEqual(rejection(sealed, seal: other, window: &window), .authentication)
        // Flipped bit anywhere after the version byte.
        for index in [1, 10, 25, 30, sealed.count - 1] {
            var flipped = sealed
            flipped[index] ^= 0x01
            XCTAssertEqual(rejection(flipped, window: &window), .authentication, "bit flip at \(index)")
        }
        // Flipped version byte, truncated.
        var badVersion = sealed
        badVersion[0] = 0x01 // the format without a destination is refused
        XCTAssertEqual(rejection(badVersion, window: &window), .malformed)
        XCTAssertEqual(rejection(Array(sealed.prefix(GossipSeal.overhead - 1)), window: &window), .malformed)
        XCTAssertEqual(rejection(Array(sealed.dropLast()), window: &window), .authentication)
        XCTAssertEqual(rejection([], window: &window), .malformed)
        // Too old, too far in the future.
        XCTAssertEqual(rejection(sealed, now: time + 30_001, window: &window), .stale)
        XCTAssertEqual(rejection(sealed, now: time - 30_001, window: &window), .stale)
        // None of the rejected attempts consumed the nonce: it opens once, then is a replay.
        XCTAssertEqual(window.count, 0)
        XCTAssertNil(rejection(sealed, window: &window))
        XCTAssertEqual(rejection(sealed, now: time + 1_000, window: &window), .replayed)
    }

    func testSecondaryKeyOpensPrimarySeals() throws {
        let sender = GossipSeal(keyring: Keyring(primary: otherKey))
        let receiver = GossipSeal(keyring: Keyring(primary: networkKey, secondary: [otherKey]))
        var window = ReplayWindow()
        XCTAssertEqual(try receiver.open(sender.seal(payload, to: destination, timestamp: time), at: [destination],
                                         now: time, window: &window), payload)
    }

    func testDatagramSealedForOneRelayIsRefusedByAnother() throws {
        let seal = GossipSeal(keyring: Keyring(primary: networkKey))
        let sealed = seal.seal(payload, to: destination, nonce: nonce, timestamp: time)
        var windowOfB = ReplayWindow()
        XCTAssertThrowsError(try seal.open(sealed, at: [elsewhere], now: time, window: &windowOfB)) { error in
            XCTAssertEqual(error as? GossipSeal.Rejection, .authentication)
        }
        let otherHost = GossipDestination(address: [10, 0, 0, 8], port: 55554)!
        XCTAssertThrowsError(try seal.open(sealed, at: [otherHost], now: time, window: &windowOfB))
        XCTAssertEqual(windowOfB.count, 0, "a refused datagram consumes no nonce")
        // The relay it was sealed for accepts it (once).
        var windowOfA = ReplayWindow()
        XCTAssertEqual(try seal.open(sealed, at: [destination], now: time, window: &windowOfA), payload)
    }

    func testDestinationEncoding() throws {
        XCTAssertEqual(hex(GossipDestination(address: [127, 0, 0, 1], port: 1)!.bytes), "047f0000010001")
        let mapped: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 10, 0, 0, 7]
        XCTAssertEqual(GossipDestination(address: mapped, port: 55554), destination, "IPv4-mapped is IPv4")
        let v6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
        XCTAssertEqual(hex(GossipDestination(address: v6, port: 0x1234)!.bytes), "0620010db8000000000000000000000001" + "1234")
        XCTAssertNil(GossipDestination(address: [1, 2, 3], port: 1))
        XCTAssertEqual(GossipDestination(try SocketAddress(ipAddress: "10.0.0.7", port: 55554)), destination)
        XCTAssertEqual(GossipDestination(try SocketAddress(ipAddress: "::ffff:10.0.0.7", port: 55554)), destination)
        XCTAssertEqual(GossipDestination(try SocketAddress(ipAddress: "10.0.0.7", port: 9), port: 55554), destination)
    }

    func testReplayWindowEvictionNeverReopensReplays() throws {
        var window = ReplayWindow(window: 30_000, capacity: 4)
        let nonces = (0..<6).map { [UInt8](repeating: UInt8($0), count: 24) }
        for (i, n) in nonces.enumerated() { try window.admit(nonce: n, timestamp: time + Int64(i), now: time + 10) }
        XCTAssertLessThanOrEqual(window.count, 4)
        // nonce 0 was forgotten; it must still be refused (by the floor), never accepted again.
        XCTAssertThrowsError(try window.admit(nonce: nonces[0], timestamp: time, now: time + 10))
        XCTAssertThrowsError(try window.admit(nonce: nonces[5], timestamp: time + 5, now: time + 10))
        // Old entries age out.
        try window.admit(nonce: [UInt8](repeating: 99, count: 24), timestamp: time + 40_000, now: time + 40_000)
        XCTAssertEqual(window.count, 1)
    }

    func seal(for key: NetworkKey) -> GossipSeal { GossipSeal(keyring: Keyring(primary: key)) }
}

final class BeaconTests: XCTestCase {
    func testBeaconRoundTripAndRejection() {
        let node = NodeID(high: 0x0102_0304_0506_0708, low: 0x090a_0b0c_0d0e_0f10)
        let address = NodeAddress(host: "10.0.0.7", port: 55554)
        let bytes = Beacon.encode(node: node, address: address)
        XCTAssertEqual(hexString(bytes), "50584231" + "0102030405060708090a0b0c0d0e0f10" + "d902" + "08" + hexString(Array("10.0.0.7".utf8)))
        XCTAssertEqual(Beacon.decode(bytes)?.node, node)
        XCTAssertEqual(Beacon.decode(bytes)?.address, address)
        XCTAssertNil(Beacon.decode(Array(bytes.dropLast())))
        XCTAssertNil(Beacon.decode(bytes + [0]))
        var badMagic = bytes
        badMagic[0] = 0
        XCTAssertNil(Beacon.decode(badMagic))
    }
}
