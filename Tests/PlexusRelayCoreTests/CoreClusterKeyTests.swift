import NIOCore
import PlexusCrypto
import PlexusMembership
@testable import PlexusRelayCore
import PlexusPeerWire
import PlexusWire
import XCTest

/// Per-cluster keys in the pure core (`Docs/cluster-keys.md`): claims decide routing, clients of
/// relays without the key are refused at once, payloads cross relays sealed.
final class CoreClusterKeyTests: XCTestCase {
    static let secret = "the-plaintext-payload-0123456789"

    func requests(_ outputs: [CoreHarness.Output], for member: ConnectionID) -> [(UInt64, String)] {
        outputs.compactMap { output in
            if case .request(let id, let payload, _) = output.packet(for: member) { return (id, String(buffer: payload)) }
            return nil
        }
    }

    func reply(_ outputs: [CoreHarness.Output], for client: ConnectionID) -> RequestResult? {
        outputs.compactMap { output -> RequestResult? in
            if case .reply(_, let result) = output.packet(for: client) { return result }
            return nil
        }.first
    }

    func closeReason(_ outputs: [CoreHarness.Output], for client: ConnectionID) -> String? {
        outputs.compactMap { output -> String? in
            if case .close(let reason) = output.packet(for: client) { return String(buffer: reason) }
            return nil
        }.first
    }

    func peerFrames(_ outputs: [CoreHarness.Output]) -> [(NodeID, PeerFrame)] {
        outputs.compactMap { if case .peer(let node, let frame, _) = $0 { return (node, frame) } else { return nil } }
    }

    /// Relays 0 and 1 hold key A for cluster "billing" and topic "news"; relay 2 holds no key;
    /// relay 3 holds key B for the same names. Relays 1, 2 and 3 each have a member of "billing"
    /// and a subscriber of "news" (registered before the directory said the names are protected).
    func fourRelays() -> (VirtualOverlay, client: ConnectionID, members: [ConnectionID], subscribers: [ConnectionID]) {
        var overlay = VirtualOverlay(relays: 4)
        overlay.setKeys(0, TestKeys.keyring())
        overlay.setKeys(1, TestKeys.keyring())
        overlay.setKeys(3, TestKeys.keyring(primary: TestKeys.b))
        let members = (1...3).map { overlay.connect($0, "billing") }
        let subscribers = (1...3).map { relay -> ConnectionID in
            let id = overlay.connect(relay)
            overlay.receive(.subscribe(topic: s("news")), from: id, on: relay)
            return id
        }
        let client = overlay.connect(0)
        overlay.publishClaimedDirectory()
        return (overlay, client, members, subscribers)
    }

    // MARK: Routing by proven claims

    func testOnlyRelaysProvingTheKeyGetRequestsBroadcastsAndEvents() {
        var (overlay, client, members, subscribers) = fourRelays()
        for id in 0..<50 {
            let out = overlay.receive(.request(id: UInt64(id), cluster: s("billing"), payload: s(Self.secret),
                                               timeoutMilliseconds: 1000), from: client, on: 0)
            XCTAssertEqual(requests(out[1], for: members[0]).map(\.1), [Self.secret], "request \(id) opened on relay 1")
            XCTAssertTrue(out[2].isEmpty && out[3].isEmpty, "nothing reaches relays 2 and 3")
        }
        var out = overlay.receive(.broadcast(cluster: s("billing"), message: s("b1")), from: client, on: 0)
        XCTAssertEqual(out[1], [p(members[0], .broadcast(message: s("b1")))])
        XCTAssertTrue(out[2].isEmpty && out[3].isEmpty)
        out = overlay.receive(.publish(topic: s("news"), event: s("e1")), from: client, on: 0)
        XCTAssertEqual(out[1], [p(subscribers[0], .publish(topic: s("news"), event: s("e1")))])
        XCTAssertTrue(out[2].isEmpty && out[3].isEmpty)
        XCTAssertEqual(overlay.relays[0].core.unprovenDirectoryEntries, 4, "relays 2 and 3: one cluster and one topic each")
    }

    func testAClaimCopiedFromAnotherRelayOrAnOlderVersionDoesNotVerify() {
        var overlay = VirtualOverlay(relays: 3)
        overlay.setKeys(0, TestKeys.keyring())
        overlay.setKeys(1, TestKeys.keyring())
        _ = overlay.connect(2, "billing")
        let client = overlay.connect(0)
        overlay.publishClaimedDirectory()
        // Relay 2 copies relay 1's valid claim (bound to relay 1's node ID) into its own record.
        let stolen = overlay.records[overlay.ids[1]]!.claims
        overlay.publishClaimedDirectory(extraClaims: [2: stolen])
        let out = overlay.receive(.request(id: 1, cluster: s("billing"), payload: s("x"), timeoutMilliseconds: 1000),
                                  from: client, on: 0)
        XCTAssertTrue(out[2].isEmpty)
        XCTAssertEqual(reply(out[0], for: client), .fault(s("plexus: no members: no member of cluster \"billing\" on any relay")))
        // A proof for an older version of relay 1's own record does not verify either.
        var record = overlay.records[overlay.ids[1]]!
        XCTAssertTrue(ClusterProtection.admits(record, keys: LocalKeys(name: TestKeys.billing, keys: ClusterKeySet(primary: TestKeys.a))))
        record.version += 1
        XCTAssertFalse(ClusterProtection.admits(record, keys: LocalKeys(name: TestKeys.billing, keys: ClusterKeySet(primary: TestKeys.a))))
    }

    // MARK: Refusals at the edge

    func testClientsOfARelayWithoutTheKeyAreRefusedAtOnce() {
        var (overlay, _, _, _) = fourRelays()
        // Registration: DENY with the reason.
        let id = overlay.relays[2].open()
        let out = overlay.relays[2].receive(.initiate(version: s(WireConstants.protocolVersion), cluster: s("billing")), from: id)
        let refusal = "plexus: refused: cluster \"billing\" is protected by a key this relay does not hold"
        XCTAssertEqual(out.first, p(id, .deny(reason: s(refusal))))
        // Request: an immediate fault naming the cluster.
        let client = overlay.connect(2)
        var result = overlay.receive(.request(id: 3, cluster: s("billing"), payload: s("x"), timeoutMilliseconds: 1000),
                                     from: client, on: 2)
        XCTAssertEqual(reply(result[2], for: client), .fault(s(refusal)))
        XCTAssertTrue(peerFrames(overlay.relays[2].collect()).isEmpty)
        // Tunnel: answered at once (v1 can only say timed out).
        result = overlay.receive(.tunnelInit(id: 4, cluster: s("billing"), timeoutMilliseconds: 1000), from: client, on: 2)
        XCTAssertEqual(result[2], [p(client, .tunnelResult(id: 4, chunkLimit: nil))])
        // Broadcast, publish, subscribe: v1 has no answer, so the connection closes with the reason.
        result = overlay.receive(.broadcast(cluster: s("billing"), message: s("x")), from: client, on: 2)
        XCTAssertEqual(closeReason(result[2], for: client), refusal)
        for packet in [ClientPacket.publish(topic: s("news"), event: s("x")), .subscribe(topic: s("news"))] {
            let other = overlay.connect(2)
            result = overlay.receive(packet, from: other, on: 2)
            XCTAssertEqual(closeReason(result[2], for: other),
                           "plexus: refused: topic \"news\" is protected by a key this relay does not hold")
        }
        let counters = overlay.relays[2].core.protectionCounters
        XCTAssertEqual([counters.refusedRegistrations, counters.refusedRequests, counters.refusedTunnels, counters.refusedFanOut],
                       [1, 1, 1, 3])
        // Unprotected names are not affected on that relay.
        let plain = overlay.connect(2)
        result = overlay.receive(.request(id: 5, cluster: s("open"), payload: s("x"), timeoutMilliseconds: 1000), from: plain, on: 2)
        XCTAssertEqual(reply(result[2], for: plain), .fault(s("plexus: no members: no member of cluster \"open\" on any relay")))
    }

    func testProtectedOnlyRefusesEveryNameWithoutAKey() {
        var overlay = VirtualOverlay(relays: 1)
        overlay.setKeys(0, TestKeys.keyring(), protectedOnly: true)
        let member = overlay.connect(0, "billing")
        let client = overlay.connect(0)
        let id = overlay.relays[0].open()
        let out = overlay.relays[0].receive(.initiate(version: s(WireConstants.protocolVersion), cluster: s("open")), from: id)
        XCTAssertEqual(out.first, p(id, .deny(reason: s(
            "plexus: refused: cluster \"open\" has no key on this relay, which serves only protected names (--protected-only)"))))
        let result = overlay.receive(.request(id: 1, cluster: s("billing"), payload: s("ok"), timeoutMilliseconds: 100),
                                     from: client, on: 0)
        XCTAssertEqual(requests(result[0], for: member).map(\.1), ["ok"], "a keyed cluster is served")
    }

    // MARK: Sealing on the wire

    func testBytesHandedToThePeerSessionNeverContainThePlaintextAndOpenOnlyWithTheKey() throws {
        var (overlay, client, members, _) = fourRelays()
        let out = overlay.relays[0].receive(.request(id: 9, cluster: s("billing"), payload: s(Self.secret),
                                                     timeoutMilliseconds: 1000), from: client)
        let frames = peerFrames(out)
        XCTAssertEqual(frames.count, 1)
        guard case .request(let id, let cluster, _, let payload) = frames[0].1 else { return XCTFail("\(frames)") }
        XCTAssertEqual(frames[0].0, overlay.ids[1])
        XCTAssertEqual(String(buffer: cluster), "billing", "the name stays readable for routing")
        let encoded = encode(frames[0].1)
        XCTAssertNil(encoded.firstRange(of: Array(Self.secret.utf8)), "plaintext never in the frame bytes")
        XCTAssertEqual(payload.readableBytes, Self.secret.utf8.count + SealedEnvelope.overhead)
        let context = SealContext(kind: .request, direction: .towardServer, name: TestKeys.billing, origin: overlay.ids[0], identity: id)
        XCTAssertEqual(try SealedEnvelope.open(Array(payload.readableBytesView), keys: ClusterKeySet(primary: TestKeys.a), context: context),
                       Array(Self.secret.utf8))
        XCTAssertThrowsError(try SealedEnvelope.open(Array(payload.readableBytesView), keys: ClusterKeySet(primary: TestKeys.b),
                                                     context: context))
        // The member's reply goes back sealed too, and the client gets the plaintext.
        var served = overlay.inject(frames[0].1, from: 0, to: 1)
        let delivered = requests(served[1], for: members[0])
        XCTAssertEqual(delivered.map(\.1), [Self.secret])
        let answer = overlay.relays[1].receive(.reply(id: delivered[0].0, outcome: .success(s("reply-plaintext"))), from: members[0])
        guard case .reply(_, .success(let sealedReply)) = peerFrames(answer).first?.1 else { return XCTFail("\(answer)") }
        XCTAssertNil(encode(peerFrames(answer)[0].1).firstRange(of: Array("reply-plaintext".utf8)))
        XCTAssertEqual(sealedReply.readableBytes, "reply-plaintext".utf8.count + SealedEnvelope.overhead)
        served = overlay.inject(peerFrames(answer)[0].1, from: 1, to: 0)
        XCTAssertEqual(reply(served[0], for: client), .success(s("reply-plaintext")))
    }

    func testASealedRequestReplayedUnderAnotherIdFailsAtOnceWithAReason() {
        var (overlay, client, members, _) = fourRelays()
        let out = overlay.relays[0].receive(.request(id: 9, cluster: s("billing"), payload: s(Self.secret),
                                                     timeoutMilliseconds: 1000), from: client)
        guard case .request(let id, let cluster, let left, let payload) = peerFrames(out).first?.1 else { return XCTFail() }
        let replayed = PeerFrame.request(id: id + 1, cluster: cluster, millisecondsLeft: left, payload: payload)
        let served = overlay.inject(replayed, from: 0, to: 1)
        XCTAssertTrue(requests(served[1], for: members[0]).isEmpty, "never delivered")
        XCTAssertEqual(overlay.relays[1].core.protectionCounters.openFailures, 1)
        XCTAssertEqual(overlay.relays[1].core.takeProtectionLog().count, 1)
        // Tampered under the genuine id: the requester's client gets the refusal at once.
        var tampered = payload
        let offset = tampered.readerIndex + SealedEnvelope.headerLength
        tampered.setInteger(tampered.getInteger(at: offset, as: UInt8.self)! ^ 1, at: offset)
        let bad = PeerFrame.request(id: id, cluster: cluster, millisecondsLeft: left, payload: tampered)
        let answered = overlay.inject(bad, from: 0, to: 1)
        guard case .fault(let text)? = reply(answered[0], for: client) else { return XCTFail("\(answered)") }
        XCTAssertTrue(String(buffer: text).hasPrefix("plexus: refused: the sealed request for cluster \"billing\" did not open"),
                      String(buffer: text))
        XCTAssertEqual(overlay.relays[0].core.router.forwarded.count, 0)
    }

    func testAReplySealedUnderAnotherKeyFailsTheRequestAtOnce() {
        var (overlay, client, _, _) = fourRelays()
        let out = overlay.relays[0].receive(.request(id: 9, cluster: s("billing"), payload: s("x"), timeoutMilliseconds: 1000),
                                            from: client)
        guard case .request(let id, _, _, _) = peerFrames(out).first?.1 else { return XCTFail() }
        let forged = SealedEnvelope.seal(Array("forged".utf8), key: TestKeys.b,
                                         context: SealContext(kind: .reply, direction: .towardOrigin, name: TestKeys.billing,
                                                              origin: overlay.ids[0], identity: id))
        let answered = overlay.inject(.reply(id: id, outcome: .success(reply: ByteBuffer(bytes: forged))), from: 1, to: 0)
        guard case .fault(let text)? = reply(answered[0], for: client) else { return XCTFail("\(answered[0])") }
        XCTAssertTrue(String(buffer: text).contains("did not open"))
        XCTAssertEqual(overlay.relays[0].core.protectionCounters.openFailures, 1)
    }

    func testTunnelChunksCrossSealedAndArriveInOrder() {
        var overlay = VirtualOverlay(relays: 2)
        overlay.setKeys(0, TestKeys.keyring())
        overlay.setKeys(1, TestKeys.keyring())
        let acceptor = overlay.connect(1, "billing")
        let client = overlay.connect(0)
        overlay.publishClaimedDirectory()
        overlay.receive(.tunnelInit(id: 0, cluster: s("billing"), timeoutMilliseconds: 1000), from: client, on: 0)
        overlay.receive(.tunnelConfirm(buildID: 0, tunnelID: 1), from: acceptor, on: 1)
        overlay.receive(.tunnelAllow(id: 1, allowance: 1 << 20), from: acceptor, on: 1)
        overlay.receive(.tunnelAllow(id: 0, allowance: 1 << 20), from: client, on: 0)
        for index in 0..<20 {
            let chunk = "chunk-\(index)-\(Self.secret)"
            let out = overlay.relays[0].receive(.tunnelTransfer(id: 0, sizeOrContinuation: UInt64(chunk.utf8.count), chunk: s(chunk)),
                                                from: client)
            let frames = peerFrames(out)
            XCTAssertEqual(frames.count, 1)
            XCTAssertNil(encode(frames[0].1).firstRange(of: Array(Self.secret.utf8)))
            let delivered = overlay.inject(frames[0].1, from: 0, to: 1)
            XCTAssertEqual(delivered[1].compactMap { $0.packet(for: acceptor) }.first,
                           .tunnelTransfer(id: 1, sizeOrContinuation: UInt64(chunk.utf8.count), chunk: s(chunk)))
        }
        let back = overlay.receive(.tunnelTransfer(id: 1, sizeOrContinuation: 4, chunk: s("back")), from: acceptor, on: 1)
        XCTAssertEqual(back[0].compactMap { $0.packet(for: client) }, [.tunnelTransfer(id: 0, sizeOrContinuation: 4, chunk: s("back"))])
        // A chunk replayed (an old sequence number) closes the tunnel on both sides with the reason.
        let out = overlay.relays[0].receive(.tunnelTransfer(id: 0, sizeOrContinuation: 1, chunk: s("z")), from: client)
        let frame = peerFrames(out)[0].1
        overlay.inject(frame, from: 0, to: 1)
        let replay = overlay.inject(frame, from: 0, to: 1)
        XCTAssertTrue(replay[1].contains { if case .tunnelClose = $0.packet(for: acceptor) { true } else { false } }, "\(replay[1])")
        XCTAssertTrue(replay[0].contains { if case .tunnelClose = $0.packet(for: client) { true } else { false } }, "\(replay[0])")
    }

    // MARK: Rotation

    func testRotationKeepsRequestsFlowingThroughEveryStep() {
        var overlay = VirtualOverlay(relays: 2)
        let member = overlay.connect(1, "billing")
        let client = overlay.connect(0)
        let old = TestKeys.a, new = TestKeys.b
        let steps: [(ClusterKeyring, ClusterKeyring)] = [
            (TestKeys.keyring(primary: old), TestKeys.keyring(primary: old)),
            (TestKeys.keyring(primary: old, accepted: [new]), TestKeys.keyring(primary: old)),            // 1. accept new (one relay so far)
            (TestKeys.keyring(primary: old, accepted: [new]), TestKeys.keyring(primary: old, accepted: [new])), // … everywhere
            (TestKeys.keyring(primary: new, accepted: [old]), TestKeys.keyring(primary: old, accepted: [new])), // 2. switch (one so far)
            (TestKeys.keyring(primary: new, accepted: [old]), TestKeys.keyring(primary: new, accepted: [old])), // … everywhere
            (TestKeys.keyring(primary: new), TestKeys.keyring(primary: new, accepted: [old])),            // 3. retire (one so far)
            (TestKeys.keyring(primary: new), TestKeys.keyring(primary: new)),                             // … everywhere
        ]
        var requestID: UInt64 = 0
        for (step, (first, second)) in steps.enumerated() {
            overlay.setKeys(0, first)
            overlay.setKeys(1, second)
            overlay.publishClaimedDirectory()
            for _ in 0..<5 {
                requestID += 1
                let out = overlay.receive(.request(id: requestID, cluster: s("billing"), payload: s("r\(requestID)"),
                                                   timeoutMilliseconds: 1000), from: client, on: 0)
                let delivered = requests(out[1], for: member)
                XCTAssertEqual(delivered.map(\.1), ["r\(requestID)"], "step \(step)")
                guard let relayID = delivered.first?.0 else { continue }
                let answer = overlay.receive(.reply(id: relayID, outcome: .success(s("ok\(requestID)"))), from: member, on: 1)
                XCTAssertEqual(reply(answer[0], for: client), .success(s("ok\(requestID)")), "step \(step)")
            }
        }
    }

    func encode(_ frame: PeerFrame) -> [UInt8] {
        var buffer = ByteBuffer()
        PeerFrameEncoder.encode(frame, into: &buffer)
        return Array(buffer.readableBytesView)
    }
}
