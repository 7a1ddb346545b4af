import PlexusCrypto
import PlexusMembership
import PlexusSession

/// Traffic with one peer relay (or the peers beyond the table's bound) since this relay started:
/// totals that never decrease, counted by `PeerLinks` on its loop.
///
/// Bytes are session-frame plaintext: the sealed batches of encoded peer frames, before
/// encryption on the way out and after decryption on the way in. Frames sent are those queued
/// for the peer (`send` answered `.queued`); frames received are those decoded and handed out.
public struct PeerTraffic: Sendable, Codable, Equatable {
    public var bytesSent = 0
    public var bytesReceived = 0
    public var framesSent = 0
    public var framesReceived = 0

    public init() {}
}

/// Per-peer traffic with bounded cardinality: the first `maximumPeers` peers seen get their own
/// counters, every later one shares `other`. Entries are never removed (the totals must not go
/// back), so a relay that meets more than `maximumPeers` node IDs over its life (relays restarted
/// without `--data-dir` get new ones) counts the newest in `other`.
///
/// Loop-bound like `PeerLinks`. A cell is a class, so a link keeps its peer's cell and counts a
/// frame with two integer additions: no dictionary lookup, no lock per message.
final class PeerTrafficTable {
    static let maximumPeers = 256

    final class Cell {
        var traffic = PeerTraffic()
    }

    private(set) var cells: [NodeID: Cell] = [:]
    let other = Cell()

    func cell(for peer: NodeID) -> Cell {
        if let cell = cells[peer] { return cell }
        guard cells.count < Self.maximumPeers else { return other }
        let cell = Cell()
        cells[peer] = cell
        return cell
    }
}

/// What `PeerLinks` reports for `/v1/status` and `/metrics`, taken on its loop.
public struct PeerLinksReport: Sendable, Codable, Equatable {
    public struct Peer: Sendable, Codable, Equatable {
        /// The peer's node ID (hex).
        public var node: String
        /// Whether an established session to it exists now.
        public var linked: Bool
        /// Bytes queued toward it now (waiting for the session or not yet taken by the socket).
        public var queuedBytes: Int
        public var traffic: PeerTraffic
        /// The Noise cipher of the established session (`ChaChaPoly`, `AESGCM`); nil when not linked.
        public var cipher: String?
    }

    /// At most `PeerTrafficTable.maximumPeers`, ordered by node ID.
    public var peers: [Peer]
    /// Traffic of the peers beyond the bound.
    public var otherPeers: PeerTraffic
    /// Messaging sessions (dialed and accepted) that failed before establishment, by reason.
    public var handshakeFailures: PeerHandshakeFailureCounts
    /// Refusals, timeouts and backoffs of the stand-alone session listener (`listen: true`; empty
    /// in a relay, whose sessions arrive on the peer port and are admitted by the overlay).
    public var admission: [String: Int]
    /// The cipher this relay's dials propose, and the ciphers it accepts (`Docs/session-protocol.md`).
    public var proposedCipher: String?
    public var acceptedCiphers: [String]?
    /// Dials redialed under ChaChaPoly because the peer refused the proposed cipher.
    public var cipherFallbacks: Int?
}

extension PeerLinks {
    /// The report of traffic per peer, handshake failures and admission. Call on `eventLoop`.
    public func report() -> PeerLinksReport {
        eventLoop.preconditionInEventLoop()
        let peers = traffic.cells.keys.sorted().map { node in
            PeerLinksReport.Peer(node: hexString(node.bytes), linked: isLinked(to: node), queuedBytes: queuedBytes(to: node),
                                 traffic: traffic.cells[node]?.traffic ?? PeerTraffic(),
                                 cipher: sessionCipher(to: node)?.rawValue)
        }
        var admission: [String: Int] = [:]
        for (event, count) in admissionEvents { admission[Self.name(of: event)] = count }
        return PeerLinksReport(peers: peers, otherPeers: traffic.other.traffic, handshakeFailures: counters.handshakeFailures,
                               admission: admission, proposedCipher: configuration.proposedCipher.rawValue,
                               acceptedCiphers: configuration.acceptedCiphers.map(\.rawValue),
                               cipherFallbacks: counters.cipherFallbacks)
    }

    static func name(of event: AdmissionEvent) -> String {
        switch event {
        case .refused(let reason): "refused-\(reason.rawValue)"
        case .handshakeTimedOut: "handshakeTimedOut"
        case .acceptBackedOff: "acceptBackedOff"
        }
    }
}
