import Logging
import PlexusCrypto
import PlexusMembership
@testable import PlexusOverlay
import PlexusProcesses
import XCTest

final class OverlayLoopbackTests: XCTestCase {
    func makeOverlay(key: NetworkKey, seeds: [NodeAddress], joinNames: [String] = []) async throws -> Overlay {
        var logger = Logger(label: "test.overlay")
        logger.logLevel = .warning
        var configuration = OverlayConfiguration(identity: .ephemeral(), keyring: Keyring(primary: key),
                                                 bindHost: "127.0.0.1", peerPort: 0, advertiseHost: "127.0.0.1",
                                                 seeds: seeds, logger: logger)
        configuration.joinNames = joinNames
        configuration.seedRefreshMilliseconds = 300
        return try await Overlay.start(configuration: configuration)
    }

    /// Polls `condition` every 100 ms until it holds or `timeout` seconds pass.
    func eventually(_ timeout: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if try await condition() { return true }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        return try await condition()
    }

    func aliveCount(_ overlay: Overlay) async throws -> Int {
        try await overlay.status().members.filter { $0.state == "alive" }.count
    }

    func testJoinNamesAreReResolved() async throws {
        let key = NetworkKey.generate()
        let a = try await makeOverlay(key: key, seeds: [])
        // Started with no seed at all (as if the name had not resolved yet): the refresh finds a.
        let late = try await makeOverlay(key: key, seeds: [], joinNames: ["localhost:\(a.advertisedAddress.port)"])
        defer { Task { await a.shutdown(); await late.shutdown() } }
        let joined = try await eventually(5) {
            let first = try await aliveCount(a)
            let second = try await aliveCount(late)
            return first == 2 && second == 2
        }
        XCTAssertTrue(joined, "re-resolved join name not used")
    }

    func testThreeOverlaysJoinExchangeRecordsAndDetectDeath() async throws {
        let key = NetworkKey.generate()
        let a = try await makeOverlay(key: key, seeds: [])
        let b = try await makeOverlay(key: key, seeds: [a.advertisedAddress])
        let c = try await makeOverlay(key: key, seeds: [a.advertisedAddress])
        let stranger = try await makeOverlay(key: NetworkKey.generate(), seeds: [a.advertisedAddress])
        var all = [a, b, c, stranger]
        defer { let overlays = all; Task { for o in overlays { await o.shutdown() } } }

        let joined = try await eventually(10) {
            for o in [a, b, c] where try await aliveCount(o) != 3 { return false }
            return true
        }
        XCTAssertTrue(joined, "three overlays did not converge")

        c.updateOwnRecord([.registerCluster("billing", capacity: 2), .subscribeTopic("orders")])
        let spread = try await eventually(5) {
            a.directorySnapshot.relays(servingCluster: "billing").map(\.node) == [c.localID]
                && b.directorySnapshot.relays(wantingTopic: "orders") == [c.localID]
        }
        XCTAssertTrue(spread, "record did not spread")

        // A record far larger than a datagram travels on the stream path and arrives whole.
        let topics = (0..<200).map { OwnRecordChange.subscribeTopic(Name("topic-with-a-rather-long-name-\($0)")) }
        b.updateOwnRecord(topics)
        let large = try await eventually(5) {
            a.directorySnapshot.record(of: b.localID)?.topics.count == 200
                && c.directorySnapshot.record(of: b.localID)?.topics.count == 200
        }
        XCTAssertTrue(large, "large record lost")
        let bCounters = try await b.status().counters
        XCTAssertGreaterThan(bCounters.streamsOpened, 0)
        XCTAssertEqual(bCounters.streamSendFailures, 0)

        // The stranger (other network key) never appears, and its traffic is counted as dropped.
        for o in [a, b, c] {
            let status = try await o.status()
            XCTAssertFalse(status.members.contains { $0.node == hexString(stranger.localID.bytes) })
        }
        let aStatus = try await a.status()
        XCTAssertGreaterThan(aStatus.counters.streamFailures + aStatus.counters.droppedAuthentication, 0)
        XCTAssertLessThanOrEqual(aStatus.counters.largestDatagramSent, 1_400 + GossipSeal.overhead)

        // Hard stop of c (no leave): a and b see it dead.
        await c.shutdown()
        all.removeAll { $0 === c }
        let started = Date()
        let dead = try await eventually(15) {
            for o in [a, b] {
                let member = try await o.status().members.first { $0.node == hexString(c.localID.bytes) }
                if member?.state != "dead" { return false }
            }
            return true
        }
        XCTAssertTrue(dead, "death not detected")
        print("in-process: stop → dead on both survivors after \(Date().timeIntervalSince(started)) s")

        // Graceful leave of b is seen as left by a.
        await b.leave(grace: .milliseconds(1_500)) // long enough for several gossip rounds to reach a
        let left = try await eventually(5) {
            try await a.status().members.first { $0.node == hexString(b.localID.bytes) }?.state == "left"
        }
        XCTAssertTrue(left, "leave not seen")
    }
}

final class OverlayRejectionTests: XCTestCase {
    /// Real sockets: every rejected datagram lands in its counter and its content is never applied.
    func testRejectedDatagramsAreCountedAndNeverApplied() async throws {
        let key = NetworkKey.generate()
        var logger = Logger(label: "test.overlay")
        logger.logLevel = .warning
        let overlay = try await Overlay.start(configuration: OverlayConfiguration(
            identity: .ephemeral(), keyring: Keyring(primary: key), bindHost: "127.0.0.1", peerPort: 0,
            advertiseHost: "127.0.0.1", logger: logger))
        defer { Task { await overlay.shutdown() } }
        let port = Int(overlay.advertisedAddress.port)
        let seal = GossipSeal(keyring: Keyring(primary: key))
        let foreign = GossipSeal(keyring: Keyring(primary: NetworkKey.generate()))
        let sender = NodeID(high: 0xEE, low: 0xEE)
        func gossip(_ fake: UInt64) -> [UInt8] {
            MembershipEncoder.encode(MembershipPacket(sender: sender, message: .gossip(updates: [
                .alive(NodeID(high: 0xFA, low: fake), incarnation: 1,
                       address: NodeAddress(host: "127.0.0.1", port: 9)),
            ])))
        }
        func node(_ fake: UInt64) -> String { hexString(NodeID(high: 0xFA, low: fake).bytes) }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let here = GossipDestination(address: [127, 0, 0, 1], port: UInt16(port))!
        let elsewhere = GossipDestination(address: [127, 0, 0, 1], port: UInt16(port) &+ 1)!

        let fresh = seal.seal(gossip(1), to: here, timestamp: now)
        sendDatagram(fresh, toPort: port)                                        // applied
        sendDatagram(fresh, toPort: port)                                        // replayed
        sendDatagram(seal.seal(gossip(2), to: here, timestamp: now - 60_000), toPort: port) // too old
        sendDatagram(seal.seal(gossip(3), to: here, timestamp: now + 60_000), toPort: port) // too far ahead
        sendDatagram(foreign.seal(gossip(4), to: here, timestamp: now), toPort: port)       // wrong key
        var flipped = seal.seal(gossip(5), to: here, timestamp: now)
        flipped[40] ^= 0x10
        sendDatagram(flipped, toPort: port)                                      // flipped bit
        sendDatagram(Array(seal.seal(gossip(6), to: here, timestamp: now).prefix(30)), toPort: port) // truncated
        sendDatagram(seal.seal([0xFF, 0x00, 0x01], to: here, timestamp: now), toPort: port) // authentic, undecodable
        sendDatagram(seal.seal(gossip(7), to: elsewhere, timestamp: now), toPort: port) // sealed for another relay

        func complete(_ c: OverlayCounters) -> Bool {
            c.datagramsReceived >= 2 && c.droppedReplayed == 1 && c.droppedStale == 2
                && c.droppedAuthentication == 3 && c.droppedMalformed == 1
        }
        var status: OverlayStatus?
        let deadline = Date().addingTimeInterval(5)
        repeat {
            status = try await overlay.status()
            if let c = status?.counters, complete(c) { break }
            try await Task.sleep(nanoseconds: 100_000_000)
        } while Date() < deadline
        let counted = status.map { complete($0.counters) } ?? false
        XCTAssertTrue(counted, "counters: \(String(describing: status?.counters))")
        XCTAssertEqual(status?.counters.droppedUndecodable, 1)
        let members = Set(status?.members.map(\.node) ?? [])
        XCTAssertTrue(members.contains(node(1)), "the fresh datagram is applied")
        for fake in 2...7 { XCTAssertFalse(members.contains(node(UInt64(fake))), "rejected datagram \(fake) was applied") }
    }
}

