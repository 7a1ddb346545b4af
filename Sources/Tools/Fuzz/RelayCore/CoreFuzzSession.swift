import NIOCore
import PlexusRelayCore
import PlexusVocabulary
import PlexusWire

/// One fuzz input played against a fresh `RelayCore` (small bounds, so inputs reach them).
struct CoreFuzzSession {
    /// Connections one input may open.
    static let maxConnections = 12
    /// Bounds of the core under test: small, so short inputs hit them.
    static let outboundQueueLimit = 64 * 1024
    static let inputBudget = 256 * 1024
    static let maxPendingPerMember = 8

    var core: RelayCore
    var input: FuzzInput
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var opened: [ConnectionID] = []
    var nextID: UInt64 = 0
    /// Connections whose socket does not take bytes until unstalled.
    var stalled: Set<ConnectionID> = []
    /// Connections the core asked to close and that are gone (their ids are never reused).
    var closed: Set<ConnectionID> = []
    /// Relay request ids and tunnel build ids the core handed to each connection.
    var deliveredRequests: [ConnectionID: [UInt64]] = [:]
    var offeredBuilds: [ConnectionID: [UInt64]] = [:]
    /// Request and tunnel ids each connection sent: a REPLY or TUN_RESULT may only answer one of them.
    var requestsSent: [ConnectionID: Set<UInt64>] = [:]
    var tunnelsInitiated: [ConnectionID: Set<UInt64>] = [:]
    var operations = 0

    init(_ data: UnsafeRawBufferPointer) {
        var configuration = CoreConfiguration()
        configuration.outboundQueueLimitBytes = Self.outboundQueueLimit
        configuration.inputBudgetBytes = Self.inputBudget
        configuration.maxPendingPerMember = Self.maxPendingPerMember
        configuration.handshakeTimeout = .seconds(5)
        core = RelayCore(configuration: configuration)
        input = FuzzInput(data)
    }

    /// Plays the whole input; returns the number of operations run.
    @discardableResult
    static func run(_ data: UnsafeRawBufferPointer) -> Int {
        var session = CoreFuzzSession(data)
        while !session.input.isEmpty, session.operations < 4096 {
            session.step()
            session.operations += 1
        }
        return session.operations
    }

    mutating func step() {
        let operation = input.byte() % 24
        if operation == 0 || opened.isEmpty {
            guard opened.count < Self.maxConnections else { return }
            let id = ConnectionID(nextID)
            nextID += 1
            opened.append(id)
            core.connectionOpened(id, now: now)
            return settle()
        }
        let id = opened[Int(input.byte()) % opened.count]
        switch operation {
        case 1, 2:
            let version = input.byte() < 240 ? WireConstants.protocolVersion : "v0.9"
            receive(.initiate(version: ByteBuffer(string: version), cluster: operation == 1 ? ByteBuffer() : input.name()), from: id)
        case 3: receive(.subscribe(topic: input.name()), from: id)
        case 4: receive(.unsubscribe(topic: input.name()), from: id)
        case 5: receive(.publish(topic: input.name(), event: input.payload()), from: id)
        case 6: receive(.broadcast(cluster: input.name(), message: input.payload()), from: id)
        case 7, 8:
            let requestID = input.number()
            requestsSent[id, default: []].insert(requestID)
            receive(.request(id: requestID, cluster: input.name(), payload: input.payload(), timeoutMilliseconds: input.number()), from: id)
        case 9:
            let known = deliveredRequests[id] ?? []
            let requestID = known.isEmpty || input.byte() > 200 ? input.number() : known[Int(input.byte()) % known.count]
            let outcome: ReplyOutcome = input.byte() % 2 == 0 ? .success(input.payload()) : .fault(input.payload())
            receive(.reply(id: requestID, outcome: outcome), from: id)
        case 10:
            let tunnelID = input.number()
            tunnelsInitiated[id, default: []].insert(tunnelID)
            receive(.tunnelInit(id: tunnelID, cluster: input.name(), timeoutMilliseconds: input.number()), from: id)
        case 11:
            let known = offeredBuilds[id] ?? []
            let build = known.isEmpty || input.byte() > 200 ? input.number() : known[Int(input.byte()) % known.count]
            receive(.tunnelConfirm(buildID: build, tunnelID: input.number()), from: id)
        case 12: receive(.tunnelAllow(id: input.number(), allowance: input.number()), from: id)
        case 13: receive(.tunnelTransfer(id: input.number(), sizeOrContinuation: input.number(), chunk: input.payload()), from: id)
        case 14: receive(.tunnelClose(id: input.number()), from: id)
        case 15: receive(.close, from: id)
        case 16:
            core.connectionClosed(id)
            closed.insert(id)
            settle()
        case 17:
            core.decodeFailed(id, error: "fuzz: malformed input")
            settle()
        case 18:
            core.inputBuffered(id, bytes: Int(input.number() % UInt64(2 * Self.inputBudget)))
            settle()
        case 19, 20:
            now = now + .milliseconds(Int64(input.number() % 600_000))
            core.expire(now: now)
            settle()
        case 21:
            if stalled.remove(id) != nil {
                if !closed.contains(id) { core.written(id, bytes: core.queuedBytes(of: id)) } // the socket takes its backlog
            } else {
                stalled.insert(id)
            }
            settle()
        case 22:
            if input.byte() > 250 { core.startDraining() }
            settle()
        default:
            receive(.reply(id: input.number(), outcome: .success(input.payload())), from: id)
        }
    }

    mutating func receive(_ packet: ClientPacket, from id: ConnectionID) {
        core.receive(packet, from: id, now: now)
        settle()
    }

    /// Carries out the effects as `CoreDriver` would (writes complete at once unless the
    /// connection is stalled; a close ends the connection), then checks the invariants.
    mutating func settle() {
        var rounds = 0
        while !core.effects.isEmpty {
            rounds += 1
            precondition(rounds < 10_000, "the core keeps producing effects")
            let effects = core.effects
            core.effects.removeAll(keepingCapacity: true)
            var touched: Set<ConnectionID> = []
            for effect in effects {
                switch effect {
                case .send(let id, let packet):
                    precondition(opened.contains(id), "a packet for a connection never opened: \(id)")
                    precondition(!closed.contains(id), "a packet for a closed connection: \(id) \(packet)")
                    note(packet, to: id)
                    touched.insert(id)
                case .close(let id):
                    precondition(opened.contains(id), "closing a connection never opened: \(id)")
                    core.connectionClosed(id)
                    closed.insert(id)
                case .sendPeer, .announceDeparture, .pauseReading, .resumeReading, .federation:
                    break // a stand-alone relay: no peers, no gateways
                }
            }
            for id in touched.sorted() where !stalled.contains(id) && !closed.contains(id) {
                core.written(id, bytes: core.queuedBytes(of: id))
            }
        }
        checkInvariants()
    }

    /// Remembers the ids a service or an acceptor may answer with.
    mutating func note(_ packet: RelayPacket, to id: ConnectionID) {
        switch packet {
        case .request(let requestID, _, _):
            deliveredRequests[id, default: []].append(requestID)
            if deliveredRequests[id]!.count > 64 { deliveredRequests[id]!.removeFirst() }
        case .reply(let requestID, _):
            precondition(requestsSent[id]?.contains(requestID) == true, "a REPLY to \(id) for request \(requestID) it never sent")
        case .tunnelResult(let tunnelID, _):
            precondition(tunnelsInitiated[id]?.contains(tunnelID) == true, "a TUN_RESULT to \(id) for tunnel \(tunnelID) it never asked for")
        case .tunnelOffer(let build, _):
            offeredBuilds[id, default: []].append(build)
            if offeredBuilds[id]!.count > 64 { offeredBuilds[id]!.removeFirst() }
        default:
            break
        }
    }

    /// What must hold after every operation, whatever the input.
    func checkInvariants() {
        let s = core.statistics
        precondition(s.connections >= 0 && s.connections <= opened.count, "connections \(s.connections) of \(opened.count) opened")
        precondition(s.handshakingConnections <= s.connections, "handshaking \(s.handshakingConnections) > \(s.connections)")
        let live = opened.filter { !closed.contains($0) }
        precondition(s.connections <= live.count, "the core keeps \(s.connections) connections, \(live.count) are open")
        let queued = live.reduce(0) { $0 + core.queuedBytes(of: $1) }
        precondition(s.queuedBytes == queued, "queued bytes counter \(s.queuedBytes) != per-connection sum \(queued)")
        for id in live where !stalled.contains(id) {
            precondition(core.queuedBytes(of: id) == 0, "\(id) has \(core.queuedBytes(of: id)) bytes unwritten though it is not stalled")
        }
        precondition(s.queuedBytes >= 0 && s.pendingRequests >= 0 && s.tunnels >= 0, "a negative count: \(s)")
        precondition(s.bufferedInputBytes >= 0 && s.bufferedInputBytes <= Self.inputBudget,
                     "buffered input \(s.bufferedInputBytes) outside 0...\(Self.inputBudget)")
        precondition(s.peakBufferedInputBytes >= s.bufferedInputBytes, "peak below current")
        precondition(s.clusters <= OverlayLimits.maxClustersPerRelay && s.topics <= OverlayLimits.maxTopicsPerRelay,
                     "clusters \(s.clusters), topics \(s.topics) over the relay's limits")
        precondition(s.clusters <= s.connections, "more clusters (\(s.clusters)) than connections (\(s.connections))")
        precondition(s.pendingRequests <= s.connections * Self.maxPendingPerMember,
                     "pending \(s.pendingRequests) beyond \(Self.maxPendingPerMember) per member")
    }
}

/// Reads the fuzz input front to back; past its end every read is 0.
struct FuzzInput {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ data: UnsafeRawBufferPointer) { bytes = Array(data) }

    var isEmpty: Bool { offset >= bytes.count }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// A number: small, a boundary value, or 8 raw bytes, as the selector byte says.
    mutating func number() -> UInt64 {
        let selector = byte()
        switch selector % 8 {
        case 0: return 0
        case 1: return UInt64.max
        case 2: return UInt64(WireConstants.maxInteroperableValue)
        case 3: return UInt64(WireConstants.maxInteroperableValue) + 1
        case 4: return (0..<8).reduce(0) { value, _ in value << 8 | UInt64(byte()) }
        default: return UInt64(byte())
        }
    }

    /// A name: one of a few shared ones (so operations meet), empty, at and over the limits, or raw bytes.
    mutating func name() -> ByteBuffer {
        let selector = byte()
        switch selector % 10 {
        case 0: return ByteBuffer()
        case 1: return ByteBuffer(repeating: 0x61, count: OverlayLimits.nameBytes.upperBound)
        case 2: return ByteBuffer(repeating: 0x62, count: OverlayLimits.nameBytes.upperBound + 1)
        case 3:
            let count = Int(byte() % 32)
            return ByteBuffer(bytes: (0..<count).map { _ in byte() })
        default: return ByteBuffer(string: ["alpha", "beta", "gamma", "δ", "x"][Int(selector) % 5])
        }
    }

    /// A payload of 0 to about 200 KiB (large sizes are repeated bytes, so they cost no input).
    mutating func payload() -> ByteBuffer {
        let selector = byte()
        switch selector % 4 {
        case 0: return ByteBuffer()
        case 1: return ByteBuffer(repeating: byte(), count: Int(byte()) * 800)
        default: return ByteBuffer(bytes: (0..<Int(selector % 16)).map { _ in byte() })
        }
    }
}
