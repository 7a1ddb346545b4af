import NIOCore
import PlexusVocabulary
@testable import PlexusRelayCore
import PlexusPeerWire
import PlexusWire
import XCTest

/// Drives a `RelayCore` on virtual time with no sockets. Every `.send` effect is "written" at once
/// (its bytes are reported back to the core) unless the target connection is `stalled`.
struct CoreHarness {
    enum Output: Equatable, CustomStringConvertible {
        case packet(ConnectionID, RelayPacket)
        case close(ConnectionID)
        /// A frame to another relay (`dial` false: only on an existing session).
        case peer(NodeID, PeerFrame, dial: Bool)
        case departure(PeerDeparture)
        case pause(ConnectionID)
        case resume(ConnectionID)
        /// Handed to the federation gateway (`Docs/federation.md`).
        case federation(FederationEffect)
        var description: String {
            switch self {
            case .packet(let id, let p): return "\(id) <- \(p)"
            case .close(let id): return "close \(id)"
            case .peer(let node, let frame, let dial): return "\(node) <= \(frame)\(dial ? "" : " (no dial)")"
            case .departure(let kind): return "departure \(kind)"
            case .pause(let id): return "pause \(id)"
            case .resume(let id): return "resume \(id)"
            case .federation(let effect): return "federation \(effect)"
            }
        }
    }

    var core: RelayCore
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var nextID: UInt64 = 0
    var stalled: Set<ConnectionID> = []
    /// Bytes "in the socket" of stalled connections, released by `drain`.
    var unwritten: [ConnectionID: Int] = [:]
    /// Relays whose session does not take frames until `drainPeer`.
    var stalledPeers: Set<NodeID> = []
    var unwrittenToPeers: [NodeID: Int] = [:]

    init(_ configure: (inout CoreConfiguration) -> Void = { _ in }) {
        var configuration = CoreConfiguration()
        configure(&configuration)
        core = RelayCore(configuration: configuration)
    }

    static func s(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// Opens a connection without handshaking.
    mutating func open() -> ConnectionID {
        let id = ConnectionID(nextID)
        nextID += 1
        core.connectionOpened(id, now: now)
        return id
    }

    /// Opens and handshakes a connection; `cluster` nil = plain client.
    mutating func connect(_ cluster: String? = nil) -> ConnectionID {
        let id = open()
        let out = receive(.initiate(version: Self.s(WireConstants.protocolVersion), cluster: Self.s(cluster ?? "")), from: id)
        precondition(out == [.packet(id, .accept(version: Self.s(WireConstants.protocolVersion)))], "\(out)")
        return id
    }

    @discardableResult
    mutating func receive(_ packet: ClientPacket, from id: ConnectionID) -> [Output] {
        core.receive(packet, from: id, now: now)
        return collect()
    }

    mutating func advance(milliseconds: Int64) -> [Output] {
        now = now + .milliseconds(milliseconds)
        core.expire(now: now)
        return collect()
    }

    mutating func drain(_ id: ConnectionID) -> [Output] {
        stalled.remove(id)
        let bytes = unwritten.removeValue(forKey: id) ?? 0
        core.written(id, bytes: bytes)
        return collect()
    }

    mutating func drainPeer(_ node: NodeID) -> [Output] {
        stalledPeers.remove(node)
        let bytes = unwrittenToPeers.removeValue(forKey: node) ?? 0
        core.peerWritten(node, bytes: bytes)
        return collect()
    }

    /// Takes the effects, writing sends to non-stalled connections (which may produce more).
    mutating func collect() -> [Output] {
        var out: [Output] = []
        while !core.effects.isEmpty {
            let effects = core.effects
            core.effects.removeAll(keepingCapacity: true)
            var written: [(ConnectionID, Int)] = []
            var writtenToPeers: [(NodeID, Int)] = []
            for effect in effects {
                switch effect {
                case .send(let id, let packet):
                    out.append(.packet(id, packet))
                    if stalled.contains(id) {
                        unwritten[id, default: 0] += packet.encodedSize
                    } else {
                        written.append((id, packet.encodedSize))
                    }
                case .close(let id):
                    out.append(.close(id))
                case .sendPeer(let node, let frame, let dial, let size):
                    precondition(size == frame.encodedSize, "the effect's size is the frame's encoded size")
                    out.append(.peer(node, frame, dial: dial))
                    if stalledPeers.contains(node) {
                        unwrittenToPeers[node, default: 0] += size
                    } else {
                        writtenToPeers.append((node, size))
                    }
                case .announceDeparture(let kind):
                    out.append(.departure(kind))
                case .pauseReading(let id):
                    out.append(.pause(id))
                case .resumeReading(let id):
                    out.append(.resume(id))
                case .federation(let effect):
                    out.append(.federation(effect))
                }
            }
            for (id, bytes) in written { core.written(id, bytes: bytes) }
            for (node, bytes) in writtenToPeers { core.peerWritten(node, bytes: bytes) }
        }
        return out
    }
}

func p(_ id: ConnectionID, _ packet: RelayPacket) -> CoreHarness.Output { .packet(id, packet) }
func s(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }
