import DequeModule
import NIOCore
@testable import PlexusRelayCore
import PlexusPeerWire
import PlexusWire
import XCTest

/// One tunnel end as the v1 bindings behave (§9.3–9.4): sends a chunk only within the relay's
/// allowance, reassembles what it receives and, while `reading`, grants each complete message's
/// length when its application takes it.
struct TunnelClientModel {
    let relay: Int
    let connection: ConnectionID
    let tunnelID: UInt64
    var chunkLimit: Int
    var reading = true
    /// The relay's grants minus the bytes sent (never negative for a well-behaved client).
    private(set) var credit = 0
    private(set) var bytesSent = 0
    private(set) var outgoing = Deque<(UInt64, ByteBuffer)>()
    private var assembling: ByteBuffer?
    private var assemblingSize = 0
    private(set) var received: [ByteBuffer] = []
    private(set) var closeReasons: [String] = []
    /// Allowance owed to the relay (complete messages taken while reading).
    private var owed: UInt64 = 0
    /// Packets seen after this end was told the tunnel closed.
    private(set) var afterClose = 0

    init(relay: Int, connection: ConnectionID, tunnelID: UInt64, chunkLimit: Int) {
        self.relay = relay
        self.connection = connection
        self.tunnelID = tunnelID
        self.chunkLimit = chunkLimit
    }

    mutating func queue(_ message: ByteBuffer) {
        var rest = message
        var first = true
        while rest.readableBytes > 0 {
            let piece = rest.readSlice(length: min(chunkLimit, rest.readableBytes))!
            outgoing.append((first ? UInt64(message.readableBytes) : 0, piece))
            first = false
        }
    }

    /// The next packet this client sends, if any: a grant it owes, else a chunk its credit covers.
    mutating func nextPacket() -> ClientPacket? {
        guard closeReasons.isEmpty else { return nil }
        if owed > 0 {
            defer { owed = 0 }
            return .tunnelAllow(id: tunnelID, allowance: owed)
        }
        guard let (size, chunk) = outgoing.first, chunk.readableBytes <= credit else { return nil }
        outgoing.removeFirst()
        credit -= chunk.readableBytes
        bytesSent += chunk.readableBytes
        return .tunnelTransfer(id: tunnelID, sizeOrContinuation: size, chunk: chunk)
    }

    mutating func observe(_ outputs: [CoreHarness.Output]) {
        for output in outputs {
            guard let packet = output.packet(for: connection) else { continue }
            switch packet {
            case .tunnelAllow(let id, let allowance) where id == tunnelID:
                if !closeReasons.isEmpty { afterClose += 1 }
                credit += Int(allowance)
            case .tunnelTransfer(let id, let size, let chunk) where id == tunnelID:
                if !closeReasons.isEmpty { afterClose += 1 }
                if size != 0 {
                    assemblingSize = Int(size)
                    assembling = ByteBuffer()
                }
                guard assembling != nil else { XCTFail("continuation without a message"); continue }
                var data = chunk
                assembling!.writeBuffer(&data)
                if assembling!.readableBytes == assemblingSize {
                    received.append(assembling!)
                    if reading { owed += UInt64(assemblingSize) }
                    assembling = nil
                }
            case .tunnelClose(let id, let reason) where id == tunnelID:
                closeReasons.append(String(buffer: reason))
            default:
                break
            }
        }
    }

    /// Starts reading again: grants what the application takes from now on, and what it already holds.
    mutating func resumeReading() {
        reading = true
        owed += UInt64(received.reduce(0) { $0 + $1.readableBytes })
    }
}

/// Cross-relay tunnels in the pure core: `VirtualOverlay`, virtual time.
final class CoreRemoteTunnelTests: XCTestCase {
    static let limit = 16 * 1024
    static let window = 64 * 1024

    /// A tunnel from client `c` on relay 0 (id 0) to member `a` on relay 1 (id 1).
    func linked(relays: Int = 2, peerQueueLimitBytes: Int = 1 << 20,
                configure: @escaping (inout CoreConfiguration) -> Void = { _ in })
        -> (VirtualOverlay, TunnelClientModel, TunnelClientModel) {
        var overlay = VirtualOverlay(relays: relays, peerQueueLimitBytes: peerQueueLimitBytes) { configuration in
            configuration.chunkLimit = Self.limit
            configuration.tunnelWindow = Self.window
            configure(&configuration)
        }
        let a = overlay.connect(1, "svc")
        let c = overlay.connect(0)
        overlay.publishDirectory()
        var out = overlay.receive(.tunnelInit(id: 0, cluster: s("svc"), timeoutMilliseconds: 1000), from: c, on: 0)
        XCTAssertEqual(out[0], [])
        XCTAssertEqual(out[1], [p(a, .tunnelOffer(buildID: 0, chunkLimit: UInt64(Self.limit)))])
        out = overlay.receive(.tunnelConfirm(buildID: 0, tunnelID: 1), from: a, on: 1)
        XCTAssertEqual(out[1], [p(a, .tunnelAllow(id: 1, allowance: UInt64(Self.window)))])
        XCTAssertEqual(out[0], [p(c, .tunnelResult(id: 0, chunkLimit: UInt64(Self.limit))),
                                p(c, .tunnelAllow(id: 0, allowance: UInt64(Self.window)))])
        var initiator = TunnelClientModel(relay: 0, connection: c, tunnelID: 0, chunkLimit: Self.limit)
        var acceptor = TunnelClientModel(relay: 1, connection: a, tunnelID: 1, chunkLimit: Self.limit)
        initiator.observe(out[0])
        acceptor.observe(out[1])
        return (overlay, initiator, acceptor)
    }

    /// Lets both ends send and grant until nothing moves (bounded).
    func run(_ overlay: inout VirtualOverlay, _ ends: inout [TunnelClientModel], maxPackets: Int = 1_000_000) {
        var packets = 0
        var progress = true
        while progress {
            progress = false
            for index in ends.indices {
                while let packet = ends[index].nextPacket() {
                    packets += 1
                    precondition(packets < maxPackets, "tunnel traffic does not settle")
                    progress = true
                    let out = overlay.receive(packet, from: ends[index].connection, on: ends[index].relay)
                    for other in ends.indices { ends[other].observe(out[ends[other].relay]) }
                }
            }
        }
    }

    /// One packet from `ends[index]`, every end observing what it caused.
    func send(_ packet: ClientPacket, from index: Int, _ overlay: inout VirtualOverlay, _ ends: inout [TunnelClientModel]) {
        let out = overlay.receive(packet, from: ends[index].connection, on: ends[index].relay)
        for other in ends.indices { ends[other].observe(out[ends[other].relay]) }
    }

    func buffered(_ overlay: VirtualOverlay, relay: Int) -> (outbound: Int, inbound: Int) {
        let tunnels = overlay.relays[relay].core.router.remoteTunnels.bridged.values
        return (tunnels.map(\.outbound.bufferedBytes).max() ?? 0, tunnels.map(\.inbound.bufferedBytes).max() ?? 0)
    }

    func message(_ seed: Int, count: Int) -> ByteBuffer {
        ByteBuffer(bytes: (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) })
    }

    // MARK: Construction

    func testConstructionThroughTheBalancerToAMemberOnAnotherRelay() {
        let (overlay, _, _) = linked(relays: 3)
        for relay in [0, 1] {
            let statistics = overlay.relays[relay].core.statistics
            XCTAssertEqual(statistics.tunnels, 1)
            XCTAssertEqual(statistics.remoteTunnels, 1)
            XCTAssertEqual(statistics.pendingRemoteTunnels, 0)
        }
        XCTAssertEqual(overlay.relays[2].core.statistics.tunnels, 0)
        // An open cross-relay tunnel is work a draining relay waits for (up to its drain timeout).
        XCTAssertEqual(overlay.relays[0].core.pendingWork, 1)
        XCTAssertEqual(overlay.relays[1].core.pendingWork, 1)
    }

    func testLocalMemberStillPreferredAndNoMemberAnywhereFailsAtOnce() {
        var overlay = VirtualOverlay(relays: 2)
        let remote = overlay.connect(1, "svc")
        let local = overlay.connect(0, "svc")
        let c = overlay.connect(0)
        overlay.publishDirectory()
        let out = overlay.receive(.tunnelInit(id: 0, cluster: s("svc"), timeoutMilliseconds: 1000), from: c, on: 0)
        XCTAssertEqual(out[0], [p(local, .tunnelOffer(buildID: 0, chunkLimit: UInt64(WireConstants.referenceChunkLimit)))])
        XCTAssertEqual(out[1].compactMap { $0.packet(for: remote) }, [])
        let refused = overlay.receive(.tunnelInit(id: 1, cluster: s("nobody"), timeoutMilliseconds: 500), from: c, on: 0)
        XCTAssertEqual(refused[0].compactMap { $0.packet(for: c) }, [.tunnelResult(id: 1, chunkLimit: nil)])
        XCTAssertEqual(overlay.advance(milliseconds: 500)[0].compactMap { $0.packet(for: c) }, [])
    }

    func testRefusedConstructionIsAnsweredTimedOutAtOnce() {
        var overlay = VirtualOverlay(relays: 2)
        let a = overlay.connect(1, "svc")
        let c = overlay.connect(0)
        overlay.publishDirectory()
        overlay.on(1) { harness in
            harness.core.connectionClosed(a) // the directory still lists relay 1
            return harness.collect()
        }
        let out = overlay.receive(.tunnelInit(id: 7, cluster: s("svc"), timeoutMilliseconds: 30_000), from: c, on: 0)
        XCTAssertEqual(out[0], [p(c, .tunnelResult(id: 7, chunkLimit: nil))])
        XCTAssertEqual(overlay.relays[0].core.statistics.pendingRemoteTunnels, 0)
        XCTAssertEqual(overlay.advance(milliseconds: 30_000)[0], [], "answered exactly once")
    }

    func testUnconfirmedOfferTimesOutOnceAndALateConfirmationIsClosed() {
        var overlay = VirtualOverlay(relays: 2) { $0.acceptorConfirmTimeout = .seconds(3) }
        let a = overlay.connect(1, "svc")
        let c = overlay.connect(0)
        overlay.publishDirectory()
        overlay.receive(.tunnelInit(id: 0, cluster: s("svc"), timeoutMilliseconds: 10_000), from: c, on: 0)
        XCTAssertEqual(overlay.advance(milliseconds: 2999)[0], [])
        XCTAssertEqual(overlay.advance(milliseconds: 1)[0], [p(c, .tunnelResult(id: 0, chunkLimit: nil))],
                       "the accepting relay refuses when its confirmation timeout passes")
        XCTAssertEqual(overlay.advance(milliseconds: 10_000)[0], [])
        let out = overlay.receive(.tunnelConfirm(buildID: 0, tunnelID: 4), from: a, on: 1)
        XCTAssertEqual(out[1], [p(a, .tunnelClose(id: 4, reason: s(RelayCore.lateConfirmationReason)))])
        XCTAssertEqual(out[0], [])

        // The initiator's (shorter) deadline passes first; the confirmation then reaches relay 0 late.
        overlay.receive(.tunnelInit(id: 1, cluster: s("svc"), timeoutMilliseconds: 100), from: c, on: 0)
        overlay.on(1) { harness in harness.advance(milliseconds: 50) }
        XCTAssertEqual(overlay.on(0) { harness in harness.advance(milliseconds: 100) }[0],
                       [p(c, .tunnelResult(id: 1, chunkLimit: nil))])
        let late = overlay.receive(.tunnelConfirm(buildID: 1, tunnelID: 5), from: a, on: 1)
        XCTAssertEqual(late[0], [], "the initiator already has its one answer")
        XCTAssertEqual(late[1].last, p(a, .tunnelClose(id: 5, reason: s(RelayCore.lateConfirmationReason))))
        XCTAssertEqual(overlay.relays[1].core.statistics.tunnels, 0)
    }

    func testChunkLimitIsTheSmallerOfBothRelays() {
        var configured = 0
        var overlay = VirtualOverlay(relays: 2) { configuration in
            configuration.chunkLimit = configured == 0 ? 16 * 1024 : 8 * 1024
            configured += 1
        }
        let a = overlay.connect(1, "svc")
        let c = overlay.connect(0)
        overlay.publishDirectory()
        let offer = overlay.receive(.tunnelInit(id: 0, cluster: s("svc"), timeoutMilliseconds: 1000), from: c, on: 0)
        XCTAssertEqual(offer[1], [p(a, .tunnelOffer(buildID: 0, chunkLimit: 8 * 1024))])
        let result = overlay.receive(.tunnelConfirm(buildID: 0, tunnelID: 1), from: a, on: 1)
        XCTAssertEqual(result[0].first, p(c, .tunnelResult(id: 0, chunkLimit: 8 * 1024)))
    }

    func testConstructionTowardAnOverloadedRelayQueueFailsFast() {
        var overlay = VirtualOverlay(relays: 2, peerQueueLimitBytes: 10)
        _ = overlay.connect(1, "svc")
        let c = overlay.connect(0)
        overlay.publishDirectory()
        overlay.relays[0].stalledPeers.insert(overlay.ids[1])
        XCTAssertEqual(overlay.receive(.tunnelInit(id: 0, cluster: s("svc"), timeoutMilliseconds: 1000), from: c, on: 0)[0], [],
                       "an empty queue always takes the construction")
        XCTAssertEqual(overlay.receive(.tunnelInit(id: 1, cluster: s("svc"), timeoutMilliseconds: 1000), from: c, on: 0)[0],
                       [p(c, .tunnelResult(id: 1, chunkLimit: nil))])
    }

    // MARK: Data

    func testDataBothWaysIntactAndOrderedIncludingChunkedMessages() {
        var (overlay, c, a) = linked()
        c.observe(overlay.receive(.tunnelAllow(id: 0, allowance: 64 << 20), from: c.connection, on: 0)[0])
        a.observe(overlay.receive(.tunnelAllow(id: 1, allowance: 64 << 20), from: a.connection, on: 1)[1])
        let big = message(1, count: 5 * Self.limit + 123) // 6 chunks, more than the window holds at once? no: < W
        let huge = message(2, count: 3 * Self.window + 7)  // larger than the window on both relays
        c.queue(big)
        c.queue(huge)
        a.queue(huge)
        for n in 0..<1000 {
            c.queue(ByteBuffer(string: "c\(n)"))
            a.queue(ByteBuffer(string: "a\(n)"))
        }
        var ends = [c, a]
        run(&overlay, &ends)
        XCTAssertEqual(ends[1].received.count, 1002)
        XCTAssertEqual(ends[1].received.first, big)
        XCTAssertEqual(ends[1].received.dropFirst().first, huge)
        XCTAssertEqual(ends[1].received.dropFirst(2).map { String(buffer: $0) }, (0..<1000).map { "c\($0)" })
        XCTAssertEqual(ends[0].received.first, huge)
        XCTAssertEqual(ends[0].received.dropFirst().map { String(buffer: $0) }, (0..<1000).map { "a\($0)" })
        XCTAssertEqual(ends[0].credit, Self.window, "every byte's credit came back")
        XCTAssertEqual(ends[1].credit, Self.window)
        for relay in [0, 1] {
            XCTAssertEqual(buffered(overlay, relay: relay).outbound, 0)
            XCTAssertEqual(buffered(overlay, relay: relay).inbound, 0)
        }
    }

    func testSlowReceiverStopsTheSendersCreditWithBoundedBuffers() {
        var (overlay, c, a) = linked()
        a.reading = false // the acceptor's application takes nothing and grants nothing
        for n in 0..<40 { c.queue(message(n, count: Self.limit)) }
        var ends = [c, a]
        run(&overlay, &ends)
        XCTAssertEqual(ends[1].received.count, 0, "no allowance: nothing is written to the acceptor")
        XCTAssertEqual(ends[0].bytesSent, 2 * Self.window, "the sender stops after both relays' windows")
        XCTAssertEqual(ends[0].credit, 0)
        XCTAssertEqual(buffered(overlay, relay: 0).outbound, Self.window)
        XCTAssertEqual(buffered(overlay, relay: 1).inbound, Self.window)
        XCTAssertLessThanOrEqual(overlay.relays[0].core.router.queuedBytes(to: overlay.ids[1]), 1 << 20)

        // The receiver grants: everything arrives, in order, and the sender's credit is whole again.
        send(.tunnelAllow(id: 1, allowance: 64 << 20), from: 1, &overlay, &ends)
        ends[1].resumeReading()
        run(&overlay, &ends)
        XCTAssertEqual(ends[1].received, (0..<40).map { message($0, count: Self.limit) })
        XCTAssertEqual(ends[0].credit, Self.window)
    }

    func testStalledReceiverSocketWithholdsCreditAcrossRelays() {
        var (overlay, c, a) = linked { $0.outboundQueueLimitBytes = 32 * 1024 }
        a.observe(overlay.receive(.tunnelAllow(id: 1, allowance: 64 << 20), from: a.connection, on: 1)[1])
        overlay.relays[1].stalled.insert(a.connection)
        for n in 0..<60 { c.queue(message(n, count: Self.limit)) }
        var ends = [c, a]
        run(&overlay, &ends)
        let written = ends[1].received.reduce(0) { $0 + $1.readableBytes }
        XCTAssertLessThanOrEqual(written, 32 * 1024, "only what fits the stalled client's queue was written")
        XCTAssertEqual(ends[0].bytesSent, 2 * Self.window + written)
        XCTAssertLessThanOrEqual(buffered(overlay, relay: 0).outbound, Self.window)
        XCTAssertLessThanOrEqual(buffered(overlay, relay: 1).inbound, Self.window)
        // The socket drains repeatedly: the rest flows.
        for _ in 0..<200 where ends[1].received.count < 60 {
            let connection = ends[1].connection
            let out = overlay.on(1) { harness in harness.drain(connection) }
            overlay.relays[1].stalled.insert(connection)
            for index in ends.indices { ends[index].observe(out[ends[index].relay]) }
            run(&overlay, &ends)
        }
        XCTAssertEqual(ends[1].received, (0..<60).map { message($0, count: Self.limit) })
    }

    func testTunnelDataWaitsForRoomInTheRelayQueueAndResumes() {
        var (overlay, c, a) = linked(peerQueueLimitBytes: 40 * 1024)
        c.observe(overlay.receive(.tunnelAllow(id: 0, allowance: 64 << 20), from: c.connection, on: 0)[0])
        a.observe(overlay.receive(.tunnelAllow(id: 1, allowance: 64 << 20), from: a.connection, on: 1)[1])
        overlay.relays[0].stalledPeers.insert(overlay.ids[1])
        for n in 0..<20 { c.queue(message(n, count: Self.limit)) }
        var ends = [c, a]
        run(&overlay, &ends)
        let queued = overlay.relays[0].core.router.queuedBytes(to: overlay.ids[1])
        XCTAssertLessThanOrEqual(queued, 40 * 1024, "tunnel data stays under the relay queue's soft bound")
        XCTAssertGreaterThan(buffered(overlay, relay: 0).outbound, 0, "the rest waits on relay 0")
        XCTAssertLessThanOrEqual(buffered(overlay, relay: 0).outbound, Self.window)
        for _ in 0..<100 where ends[1].received.count < 20 {
            let node = overlay.ids[1]
            let out = overlay.on(0) { harness in harness.drainPeer(node) }
            overlay.relays[0].stalledPeers.insert(node)
            for index in ends.indices { ends[index].observe(out[ends[index].relay]) }
            run(&overlay, &ends)
            XCTAssertLessThanOrEqual(overlay.relays[0].core.router.queuedBytes(to: node), 40 * 1024)
        }
        XCTAssertEqual(ends[1].received, (0..<20).map { message($0, count: Self.limit) })
    }

    func testTunnelsSharingABusySessionTakeTurns() {
        var (overlay, c, a) = linked(peerQueueLimitBytes: 20 * 1024)
        // A second tunnel from another client on relay 0 to the same member.
        let c2 = overlay.connect(0)
        overlay.receive(.tunnelInit(id: 0, cluster: s("svc"), timeoutMilliseconds: 1000), from: c2, on: 0)
        var out = overlay.receive(.tunnelConfirm(buildID: 1, tunnelID: 2), from: a.connection, on: 1)
        var second = TunnelClientModel(relay: 0, connection: c2, tunnelID: 0, chunkLimit: Self.limit)
        var secondAcceptor = TunnelClientModel(relay: 1, connection: a.connection, tunnelID: 2, chunkLimit: Self.limit)
        second.observe(out[0])
        secondAcceptor.observe(out[1])
        var ends = [c, a, second, secondAcceptor]
        send(.tunnelAllow(id: 1, allowance: 64 << 20), from: 1, &overlay, &ends)
        send(.tunnelAllow(id: 2, allowance: 64 << 20), from: 3, &overlay, &ends)
        let node = overlay.ids[1]
        overlay.relays[0].stalledPeers.insert(node)
        for n in 0..<12 {
            ends[0].queue(message(n, count: Self.limit))
            ends[2].queue(message(100 + n, count: Self.limit))
        }
        run(&overlay, &ends)
        var rounds = 0
        while ends[1].received.count + ends[3].received.count < 24, rounds < 200 {
            rounds += 1
            out = overlay.on(0) { harness in harness.drainPeer(node) }
            overlay.relays[0].stalledPeers.insert(node)
            for index in ends.indices { ends[index].observe(out[ends[index].relay]) }
            run(&overlay, &ends)
            XCTAssertLessThanOrEqual(abs(ends[1].received.count - ends[3].received.count), 4, "neither tunnel starves the other")
        }
        XCTAssertEqual(ends[1].received, (0..<12).map { message($0, count: Self.limit) })
        XCTAssertEqual(ends[3].received, (0..<12).map { message(100 + $0, count: Self.limit) })
    }

    // MARK: Close

    func testCloseFromTheInitiatorDeliversBufferedDataFirst() {
        var (overlay, c, a) = linked()
        a.reading = false
        c.queue(s("hello"))
        c.queue(message(3, count: Self.limit + 10))
        var ends = [c, a]
        run(&overlay, &ends)
        XCTAssertEqual(ends[1].received, [])
        let out = overlay.receive(.tunnelClose(id: 0), from: ends[0].connection, on: 0)
        XCTAssertEqual(out[0], [p(ends[0].connection, .tunnelClose(id: 0, reason: s("")))])
        ends[1].observe(out[1])
        XCTAssertEqual(ends[1].received, [s("hello"), message(3, count: Self.limit + 10)])
        XCTAssertEqual(ends[1].closeReasons, [""])
        XCTAssertEqual(out[1].last, p(ends[1].connection, .tunnelClose(id: 1, reason: s(""))))
        for relay in [0, 1] { XCTAssertEqual(overlay.relays[relay].core.statistics.tunnels, 0) }
        XCTAssertEqual(overlay.receive(.tunnelClose(id: 1), from: ends[1].connection, on: 1)[1], [],
                       "a close for a closed tunnel is ignored")
    }

    func testCloseFromTheAcceptorWaitsForCreditThenDeliversEverything() {
        var (overlay, c, a) = linked()
        c.reading = false
        for n in 0..<8 { a.queue(message(n, count: Self.limit)) } // 2 windows: fills relay 0, then relay 1
        var ends = [c, a]
        run(&overlay, &ends)
        XCTAssertEqual(ends[1].bytesSent, 8 * Self.limit)
        XCTAssertEqual(buffered(overlay, relay: 1).outbound, Self.window, "half still waits on relay 1")
        let out = overlay.receive(.tunnelClose(id: 1), from: ends[1].connection, on: 1)
        XCTAssertEqual(out[1], [p(ends[1].connection, .tunnelClose(id: 1, reason: s("")))])
        ends[0].observe(out[0])
        XCTAssertEqual(ends[0].closeReasons, [], "not closed while data is still on its way")
        XCTAssertEqual(overlay.relays[1].core.statistics.tunnels, 1)
        // The initiator grants: relay 1 flushes, then closes.
        send(.tunnelAllow(id: 0, allowance: 64 << 20), from: 0, &overlay, &ends)
        XCTAssertEqual(ends[0].received, (0..<8).map { message($0, count: Self.limit) })
        XCTAssertEqual(ends[0].closeReasons, [""])
        XCTAssertEqual(ends[0].afterClose, 0)
        for relay in [0, 1] { XCTAssertEqual(overlay.relays[relay].core.statistics.tunnels, 0) }
    }

    func testSimultaneousCloseGivesEachEndOneClose() {
        var (overlay, c, a) = linked()
        let first = overlay.on(0) { harness in harness.receive(.tunnelClose(id: 0), from: c.connection) }
        XCTAssertEqual(first[0], [p(c.connection, .tunnelClose(id: 0, reason: s("")))])
        // a closes before relay 0's close reached it? It already did in the virtual overlay: ignored.
        let second = overlay.receive(.tunnelClose(id: 1), from: a.connection, on: 1)
        XCTAssertEqual(second[1], [])
        c.observe(first[0] + second[0])
        a.observe(first[1] + second[1])
        XCTAssertEqual(c.closeReasons, [""])
        XCTAssertEqual(a.closeReasons, [""])
        XCTAssertEqual(overlay.relays[0].core.pendingWork, 0, "a closed tunnel no longer holds up draining")
        XCTAssertEqual(overlay.relays[1].core.pendingWork, 0)
    }

    func testClientDisconnectClosesTheRemoteEnd() {
        var (overlay, c, a) = linked()
        c.queue(s("last words"))
        var ends = [c, a]
        run(&overlay, &ends)
        let out = overlay.on(0) { harness in
            harness.core.connectionClosed(ends[0].connection)
            return harness.collect()
        }
        ends[1].observe(out[1])
        XCTAssertEqual(ends[1].received, [s("last words")])
        XCTAssertEqual(ends[1].closeReasons, [""])
        for relay in [0, 1] { XCTAssertEqual(overlay.relays[relay].core.statistics.tunnels, 0) }

        var (overlay2, c2, a2) = linked()
        let out2 = overlay2.on(1) { harness in
            harness.core.connectionClosed(a2.connection)
            return harness.collect()
        }
        c2.observe(out2[0])
        XCTAssertEqual(c2.closeReasons, [""])
    }

    func testClientOverrunDropsTheClientAndClosesTheRemoteEnd() {
        var (overlay, c, a) = linked()
        let chunk = message(1, count: Self.limit)
        for _ in 0..<(Self.window / Self.limit) {
            overlay.receive(.tunnelTransfer(id: 0, sizeOrContinuation: UInt64(Self.limit), chunk: chunk), from: c.connection, on: 0)
        }
        // Relay 0 has moved everything on (relay 1 granted W), so the client has W credit again; spend it twice.
        for _ in 0..<(2 * Self.window / Self.limit) {
            overlay.receive(.tunnelTransfer(id: 0, sizeOrContinuation: UInt64(Self.limit), chunk: chunk), from: c.connection, on: 0)
        }
        XCTAssertTrue(overlay.outputs[0].contains(.close(c.connection)))
        a.observe(overlay.outputs[1])
        XCTAssertEqual(a.closeReasons, [], "what the client sent within its credit still goes first")
        // W waits on relay 1 (no allowance) and W on relay 0 (no credit from relay 1). a reads: all of it, then the close.
        let out = overlay.receive(.tunnelAllow(id: 1, allowance: 64 << 20), from: a.connection, on: 1)
        a.observe(out[1])
        XCTAssertEqual(a.received.count, 2 * Self.window / Self.limit)
        XCTAssertEqual(a.closeReasons, [""])
        for relay in [0, 1] { XCTAssertEqual(overlay.relays[relay].core.statistics.tunnels, 0) }
    }

    func testPeerOverrunClosesTheTunnelOnBothSides() {
        var (overlay, c, a) = linked()
        let from = overlay.ids[0]
        let chunk = message(1, count: Self.window + 1)
        let out = overlay.on(1) { harness in
            harness.core.receivePeer(.tunnelTransfer(tunnelID: 0, sizeOrContinuation: UInt64(chunk.readableBytes), chunk: chunk),
                                     from: from, now: harness.now)
            return harness.collect()
        }
        a.observe(out[1])
        c.observe(out[0])
        XCTAssertEqual(a.closeReasons, [RelayCore.peerOverrunReason])
        XCTAssertEqual(c.closeReasons, [RelayCore.peerOverrunReason])
    }

    // MARK: Failure

    func testRelayFailureClosesTunnelsAndFailsConstructionsAtOnce() {
        var (overlay, c, a) = linked()
        let c2 = overlay.connect(0)
        let offer = overlay.receive(.tunnelInit(id: 3, cluster: s("svc"), timeoutMilliseconds: 30_000), from: c2, on: 0)
        XCTAssertEqual(offer[1], [p(a.connection, .tunnelOffer(buildID: 1, chunkLimit: UInt64(Self.limit)))])
        overlay.down = Set(overlay.ids)
        let onRelay0 = overlay.peerFailed(overlay.ids[1], seenBy: 0)
        c.observe(onRelay0[0])
        XCTAssertEqual(c.closeReasons, [RelayCore.relayFailedReason(overlay.ids[1])])
        XCTAssertEqual(onRelay0[0].compactMap { $0.packet(for: c2) }, [.tunnelResult(id: 3, chunkLimit: nil)])
        let onRelay1 = overlay.peerFailed(overlay.ids[0], seenBy: 1)
        a.observe(onRelay1[1])
        XCTAssertEqual(a.closeReasons, [RelayCore.relayFailedReason(overlay.ids[0])])
        let late = overlay.receive(.tunnelConfirm(buildID: 1, tunnelID: 9), from: a.connection, on: 1)
        XCTAssertEqual(late[1], [p(a.connection, .tunnelClose(id: 9, reason: s(RelayCore.lateConfirmationReason)))],
                       "the offer made for the failed relay was withdrawn")
        for relay in [0, 1] {
            XCTAssertEqual(overlay.relays[relay].core.statistics.tunnels, 0)
            XCTAssertEqual(overlay.relays[relay].core.statistics.pendingRemoteTunnels, 0)
        }
        XCTAssertEqual(overlay.advance(milliseconds: 30_000)[0], [], "nothing is answered twice")
    }
}
