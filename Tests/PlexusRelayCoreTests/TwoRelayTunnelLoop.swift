import DequeModule
import NIOCore
import PlexusPeerWire
@testable import PlexusRelayCore
import XCTest

/// A simulated tunnel direction across two relays: client A → relay A (`TunnelBridgeSender`) →
/// session → relay B (`TunnelBridgeReceiver`) → client B. Frames between the relays go through
/// the real `PeerFrame` codec. Clients behave like the v1 bindings: A sends a chunk only within
/// its allowance; B reassembles (§9.3) and grants a message's length when its application takes it.
struct TwoRelayTunnelLoop {
    var relayA: TunnelBridgeSender
    var relayB: TunnelBridgeReceiver
    let chunkLimit: Int
    let decoder = PeerFrameDecoder()

    // Client A.
    private var outgoing = Deque<TunnelChunk>()
    private(set) var clientAAllowance: Int
    private(set) var bytesSentByClientA = 0

    // The session, one queue per direction, carrying encoded frames.
    private var framesToB = Deque<ByteBuffer>()
    private var framesToA = Deque<ByteBuffer>()

    // Client B.
    private var assembling: ByteBuffer?
    private var assemblingSize = 0
    private(set) var completed = Deque<ByteBuffer>()
    private(set) var delivered: [ByteBuffer] = []
    private(set) var bytesReceivedByClientB = 0

    /// The largest buffers seen on each relay.
    private(set) var peakBufferedA = 0
    private(set) var peakBufferedB = 0

    init(windowA: Int, windowB: Int, chunkLimit: Int, clientBInitialGrant: UInt64) {
        relayA = TunnelBridgeSender(window: windowA)
        relayB = TunnelBridgeReceiver(window: windowB)
        self.chunkLimit = chunkLimit
        clientAAllowance = relayA.initialClientGrant
        framesToA.append(PeerFrameEncoder.encode(.tunnelAllow(tunnelID: 1, bytes: UInt64(relayB.initialPeerGrant))))
        relayB.clientGranted(clientBInitialGrant)
    }

    /// Client A queues `message`, cut into chunks of at most `chunkLimit` bytes (slices, no copy).
    mutating func send(_ message: ByteBuffer) {
        var rest = message
        var first = true
        while rest.readableBytes > 0 {
            let piece = rest.readSlice(length: min(chunkLimit, rest.readableBytes))!
            outgoing.append(TunnelChunk(sizeOrContinuation: first ? UInt64(message.readableBytes) : 0, data: piece))
            first = false
        }
    }

    var idle: Bool { outgoing.isEmpty && framesToA.isEmpty && framesToB.isEmpty && relayA.bufferedBytes == 0 && relayB.bufferedBytes == 0 }

    /// One round of every party; client B's application then takes up to `consume` messages.
    mutating func step(consume: Int) throws {
        // Client A sends what its allowance covers.
        while let head = outgoing.first, head.length <= clientAAllowance {
            outgoing.removeFirst()
            clientAAllowance -= head.length
            bytesSentByClientA += head.length
            XCTAssertEqual(relayA.receiveFromClient(head), .accepted)
        }
        peakBufferedA = max(peakBufferedA, relayA.bufferedBytes)
        // Relay A: credit frames from B, then forward within credit.
        while let frame = framesToA.popFirst() {
            guard case let .tunnelAllow(_, bytes) = try decoder.decode(frame) else { return XCTFail("unexpected frame") }
            relayA.peerGranted(bytes)
        }
        let outOfA = relayA.release()
        clientAAllowance += outOfA.clientGrant
        for chunk in outOfA.toPeer {
            framesToB.append(PeerFrameEncoder.encode(.tunnelTransfer(tunnelID: 9, sizeOrContinuation: chunk.sizeOrContinuation, chunk: chunk.data)))
        }
        // Relay B: chunks from A, then write to client B under the v1 rules.
        while let frame = framesToB.popFirst() {
            guard case let .tunnelTransfer(_, size, data) = try decoder.decode(frame) else { return XCTFail("unexpected frame") }
            XCTAssertEqual(relayB.receiveFromPeer(TunnelChunk(sizeOrContinuation: size, data: data)), .accepted)
        }
        peakBufferedB = max(peakBufferedB, relayB.bufferedBytes)
        let outOfB = relayB.release(hasRoom: { _ in true })
        if outOfB.peerGrant > 0 {
            framesToA.append(PeerFrameEncoder.encode(.tunnelAllow(tunnelID: 1, bytes: UInt64(outOfB.peerGrant))))
        }
        for chunk in outOfB.toClient { clientBReceive(chunk) }
        // Client B's application.
        for _ in 0..<consume {
            guard let message = completed.popFirst() else { break }
            delivered.append(message)
            relayB.clientGranted(UInt64(message.readableBytes))
        }
    }

    private mutating func clientBReceive(_ chunk: TunnelChunk) {
        bytesReceivedByClientB += chunk.length
        if chunk.startsMessage {
            if let partial = assembling { relayB.clientGranted(UInt64(partial.readableBytes)) }
            assemblingSize = Int(chunk.sizeOrContinuation)
            assembling = ByteBuffer()
            assembling!.reserveCapacity(assemblingSize)
        }
        guard assembling != nil else { return XCTFail("continuation without a message") }
        var incoming = chunk.data
        assembling!.writeBuffer(&incoming)
        if assembling!.readableBytes == assemblingSize {
            completed.append(assembling!)
            assembling = nil
        }
    }
}
