import NIOCore
import PlexusCrypto
import PlexusMembership
@testable import PlexusRelayCore
import PlexusPeerWire
import PlexusWire
import XCTest

/// Suite choice between relays (`Docs/cluster-keys.md`, "Two suites"): AES-256-GCM (suite 2)
/// only toward relays whose suite claim verified, XChaCha20-Poly1305 (suite 1) otherwise, and
/// both kinds of relay exchange sealed traffic in both directions.
final class CoreFastSealTests: XCTestCase {
    static let secret = "the-plaintext-payload-0123456789"

    override func setUpWithError() throws {
        try XCTSkipUnless(AESGCM.isAvailable, "this CPU has no AES-NI/PCLMUL: suite 2 is never used here")
    }

    func peerFrames(_ outputs: [CoreHarness.Output]) -> [(NodeID, PeerFrame)] {
        outputs.compactMap { if case .peer(let node, let frame, _) = $0 { return (node, frame) } else { return nil } }
    }

    /// The suite byte of the sealed payload a frame carries.
    func suite(_ frame: PeerFrame) -> UInt8? {
        switch frame {
        case .request(_, _, _, let payload): payload.getInteger(at: payload.readerIndex, as: UInt8.self)
        case .reply(_, .success(let payload)), .reply(_, .fault(let payload)): payload.getInteger(at: payload.readerIndex, as: UInt8.self)
        case .publish(_, let event): event.getInteger(at: event.readerIndex, as: UInt8.self)
        case .broadcast(_, let message): message.getInteger(at: message.readerIndex, as: UInt8.self)
        case .tunnelTransfer(_, _, let data): data.getInteger(at: data.readerIndex, as: UInt8.self)
        default: nil
        }
    }

    /// Relay 0 and relay 1 hold key A for "billing" and "news"; relay 1 has AES-256-GCM or not.
    /// Relay 1 serves "billing" and subscribes "news"; relay 0 has a subscriber too.
    struct Pair {
        var overlay: VirtualOverlay
        var client: ConnectionID
        var member: ConnectionID
        var subscriber: ConnectionID
    }

    func pair(relay1Fast: Bool) -> Pair {
        var overlay = VirtualOverlay(relays: 2)
        overlay.setKeys(0, TestKeys.keyring())
        overlay.setKeys(1, TestKeys.keyring(), fastSeal: relay1Fast)
        let member = overlay.connect(1, "billing")
        let subscriber = overlay.connect(1)
        overlay.receive(.subscribe(topic: s("news")), from: subscriber, on: 1)
        let localSubscriber = overlay.connect(0)
        overlay.receive(.subscribe(topic: s("news")), from: localSubscriber, on: 0)
        let client = overlay.connect(0)
        overlay.publishClaimedDirectory()
        return Pair(overlay: overlay, client: client, member: member, subscriber: subscriber)
    }

    /// A request from relay 0 to relay 1 and its reply, an event and a broadcast each way: every
    /// sealed payload uses `expected` and everything arrives in the clear at the far end.
    func exchange(_ setup: inout Pair, expected: UInt8, backExpected: UInt8, file: StaticString = #filePath, line: UInt = #line) {
        var overlay = setup.overlay
        defer { setup.overlay = overlay }
        // Request and reply.
        let out = overlay.relays[0].receive(.request(id: 9, cluster: s("billing"), payload: s(Self.secret), timeoutMilliseconds: 1000),
                                            from: setup.client)
        let toRemote = peerFrames(out).filter { $0.0 == overlay.ids[1] }
        guard let request = toRemote.first?.1 else { return XCTFail("no frame toward relay 1: \(out)", file: file, line: line) }
        XCTAssertEqual(suite(request), expected, "request", file: file, line: line)
        let served = overlay.inject(request, from: 0, to: 1)
        guard case .request(let id, let payload, _)? = served[1].compactMap({ $0.packet(for: setup.member) }).first else {
            return XCTFail("\(served[1])", file: file, line: line)
        }
        XCTAssertEqual(String(buffer: payload), Self.secret, file: file, line: line)
        let answer = overlay.relays[1].receive(.reply(id: id, outcome: .success(s("reply-plaintext"))), from: setup.member)
        guard let reply = peerFrames(answer).first?.1 else { return XCTFail("\(answer)", file: file, line: line) }
        XCTAssertEqual(suite(reply), backExpected, "reply", file: file, line: line)
        let answered = overlay.inject(reply, from: 1, to: 0)
        XCTAssertEqual(answered[0].compactMap { $0.packet(for: setup.client) }, [.reply(id: 9, result: .success(s("reply-plaintext")))],
                       file: file, line: line)
        // Events both ways.
        let event = peerFrames(overlay.relays[0].receive(.publish(topic: s("news"), event: s("e-out")), from: setup.client))
        XCTAssertEqual(event.map { suite($0.1) }, [expected], "event toward relay 1", file: file, line: line)
        let delivered = overlay.inject(event[0].1, from: 0, to: 1)
        XCTAssertEqual(delivered[1].compactMap { $0.packet(for: setup.subscriber) }, [.publish(topic: s("news"), event: s("e-out"))],
                       file: file, line: line)
        let back = peerFrames(overlay.relays[1].receive(.publish(topic: s("news"), event: s("e-back")), from: setup.member))
        XCTAssertEqual(back.map { suite($0.1) }, [backExpected], "event toward relay 0", file: file, line: line)
        let arrived = overlay.inject(back[0].1, from: 1, to: 0)
        XCTAssertEqual(arrived[0].filter { if case .packet(_, .publish) = $0 { true } else { false } }.count, 1,
                       "\(arrived[0])", file: file, line: line)
        // A broadcast toward relay 1.
        let broadcast = peerFrames(overlay.relays[0].receive(.broadcast(cluster: s("billing"), message: s("b")), from: setup.client))
        XCTAssertEqual(broadcast.map { suite($0.1) }, [expected], "broadcast", file: file, line: line)
        let heard = overlay.inject(broadcast[0].1, from: 0, to: 1)
        XCTAssertEqual(heard[1].compactMap { $0.packet(for: setup.member) }, [.broadcast(message: s("b"))], file: file, line: line)
        XCTAssertEqual(overlay.relays[0].core.protectionCounters.openFailures + overlay.relays[1].core.protectionCounters.openFailures, 0,
                       file: file, line: line)
    }

    func testRelaysThatBothOpenSuite2UseItEveryWay() {
        var setup = pair(relay1Fast: true)
        XCTAssertTrue(setup.overlay.relays[0].core.clusterProtection.sealsFast(toward: setup.overlay.ids[1]))
        exchange(&setup, expected: 2, backExpected: 2)
    }

    func testARelayWithoutTheCapabilityStillExchangesSealedTraffic() {
        var setup = pair(relay1Fast: false)
        XCTAssertFalse(setup.overlay.relays[0].core.clusterProtection.sealsFast(toward: setup.overlay.ids[1]),
                       "relay 1 made no suite claim")
        XCTAssertFalse(setup.overlay.relays[1].core.clusterProtection.sealsFast(toward: setup.overlay.ids[0]),
                       "relay 1 seals suite 1 only, whatever relay 0 claims")
        exchange(&setup, expected: 1, backExpected: 1)
    }

    func testFanOutUsesSuite2OnlyWhenEveryTargetRelayOpensIt() {
        var overlay = VirtualOverlay(relays: 3)
        overlay.setKeys(0, TestKeys.keyring())
        overlay.setKeys(1, TestKeys.keyring())
        overlay.setKeys(2, TestKeys.keyring(), fastSeal: false)
        var subscribers: [ConnectionID] = []
        for relay in 1...2 {
            let id = overlay.connect(relay)
            overlay.receive(.subscribe(topic: s("news")), from: id, on: relay)
            subscribers.append(id)
        }
        let client = overlay.connect(0)
        overlay.publishClaimedDirectory()
        let frames = peerFrames(overlay.relays[0].receive(.publish(topic: s("news"), event: s("e")), from: client))
        XCTAssertEqual(frames.count, 2)
        XCTAssertEqual(frames.map { suite($0.1) }, [1, 1], "one seal for both relays: suite 1, which relay 2 opens")
        for (index, frame) in frames.enumerated() {
            let target = overlay.ids.firstIndex(of: frame.0)!
            let out = overlay.inject(frame.1, from: 0, to: target)
            XCTAssertEqual(out[target].compactMap { $0.packet(for: subscribers[target - 1]) }, [.publish(topic: s("news"), event: s("e"))],
                           "frame \(index)")
        }
    }

    func testASuiteClaimCopiedFromAnotherRelayDoesNotCount() {
        var overlay = VirtualOverlay(relays: 3)
        overlay.setKeys(0, TestKeys.keyring())
        overlay.setKeys(1, TestKeys.keyring())
        overlay.setKeys(2, TestKeys.keyring(), fastSeal: false)
        overlay.publishClaimedDirectory()
        let copied = overlay.records[overlay.ids[1]]!.claims
        overlay.publishClaimedDirectory(extraClaims: [2: copied])
        let protection = overlay.relays[0].core.clusterProtection
        XCTAssertTrue(protection.sealsFast(toward: overlay.ids[1]))
        XCTAssertFalse(protection.sealsFast(toward: overlay.ids[2]), "the proofs are bound to relay 1's node ID")
    }
}
