import NIOCore
import PlexusPeerWire
import PlexusVocabulary

/// One gateway-to-gateway message, carried as exactly one application frame on the Noise session
/// between two gateways of different overlays (byte layout: `Docs/federation.md` §4).
///
/// Guarantees: every case round-trips through `GatewayFrameEncoder` / `GatewayFrameDecoder` byte
/// for byte; binary fields are `ByteBuffer` slices of the received frame. Request ids are
/// allocated by the gateway that sends the REQUEST and echoed in its REPLY.
public enum GatewayFrame: Equatable, Sendable {
    /// First frame on every link, both directions: the sender's protocol version, overlay name and
    /// node id. Nothing else may be sent or accepted before it.
    case hello(version: UInt8, overlay: OverlayName, gateway: NodeID)
    /// What the sender's overlay serves (clusters) and wants (topics), aggregated over the whole
    /// overlay. `version` grows by one per announcement; a `.full` one replaces everything known,
    /// a `.delta` one applies to version − 1.
    case interest(GatewayInterest)
    /// Deliver `payload` to one member of `cluster` in the receiver's overlay, within
    /// `millisecondsLeft`.
    case request(id: UInt64, cluster: ByteBuffer, millisecondsLeft: UInt64, payload: ByteBuffer)
    /// The answer to `request(id:)` (the outcomes of relay-to-relay REPLY).
    case reply(id: UInt64, outcome: PeerReplyOutcome)
    /// Deliver `message` to every member of `cluster` in the receiver's overlay.
    case broadcast(cluster: ByteBuffer, message: ByteBuffer)
    /// Deliver `event` to every subscriber of `topic` in the receiver's overlay. `publisher` (the
    /// relay the event was published on) and `sequence` (1, 2, … per publisher) keep order: the
    /// receiver drops an event whose sequence is not above the last one it delivered from that
    /// publisher.
    case event(topic: ByteBuffer, publisher: NodeID, sequence: UInt64, event: ByteBuffer)
    /// Round-trip measurement: the receiver answers `pong` with the same nonce.
    case ping(nonce: UInt64)
    /// The answer to `ping`.
    case pong(nonce: UInt64)
    /// Open a tunnel to one member of `cluster` in the receiver's overlay; `tunnelID` is the
    /// sender's id for it (`Docs/federation.md` §4, tunnels). The other tunnel frames mirror the
    /// relay-to-relay ones: an id in ALLOW, TRANSFER and CLOSE is always the *receiver's* id.
    case tunnelInit(tunnelID: UInt64, cluster: ByteBuffer, millisecondsLeft: UInt64)
    /// The receiver's overlay linked the tunnel: `acceptorTunnelID` is the sender's id for it.
    case tunnelConfirm(initiatorTunnelID: UInt64, acceptorTunnelID: UInt64, chunkLimit: UInt64)
    /// The tunnel could not be opened (no member, timed out, link overloaded).
    case tunnelRefuse(initiatorTunnelID: UInt64, reason: ByteBuffer)
    /// End-to-end credit: the far end accepts `bytes` more chunk bytes.
    case tunnelAllow(tunnelID: UInt64, bytes: UInt64)
    /// One chunk, within the credit the far end granted.
    case tunnelTransfer(tunnelID: UInt64, sizeOrContinuation: UInt64, chunk: ByteBuffer)
    /// The tunnel closed; `reason` empty = graceful.
    case tunnelClose(tunnelID: UInt64, reason: ByteBuffer)
}

/// One interest announcement (`GatewayFrame.interest`).
public struct GatewayInterest: Equatable, Sendable {
    /// Whether the announcement replaces all interest known (`full`) or changes it (`delta`).
    public enum Kind: UInt8, Sendable {
        case full = 0
        case delta = 1
    }

    /// One change: a cluster served or a topic wanted, added or withdrawn.
    public enum Change: Equatable, Sendable, Hashable {
        case addCluster(String)
        case addTopic(String)
        case removeCluster(String)
        case removeTopic(String)

        var opcode: UInt8 {
            switch self {
            case .addCluster: 0
            case .addTopic: 1
            case .removeCluster: 2
            case .removeTopic: 3
            }
        }

        var name: String {
            switch self {
            case .addCluster(let name), .addTopic(let name), .removeCluster(let name), .removeTopic(let name): name
            }
        }
    }

    public var version: UInt64
    public var kind: Kind
    /// For `.full`, only additions.
    public var changes: [Change]

    public init(version: UInt64, kind: Kind, changes: [Change]) {
        self.version = version
        self.kind = kind
        self.changes = changes
    }
}

/// Frame type bytes (`Docs/federation.md` §4).
public enum GatewayFrameType: UInt8, Sendable, CaseIterable {
    case hello = 0x01
    case interest = 0x02
    case request = 0x03
    case reply = 0x04
    case broadcast = 0x05
    case event = 0x06
    case ping = 0x07
    case pong = 0x08
    case tunnelInit = 0x09
    case tunnelConfirm = 0x0A
    case tunnelRefuse = 0x0B
    case tunnelAllow = 0x0C
    case tunnelTransfer = 0x0D
    case tunnelClose = 0x0E
}

extension GatewayFrame {
    /// The type byte of this frame.
    public var type: GatewayFrameType {
        switch self {
        case .hello: .hello
        case .interest: .interest
        case .request: .request
        case .reply: .reply
        case .broadcast: .broadcast
        case .event: .event
        case .ping: .ping
        case .pong: .pong
        case .tunnelInit: .tunnelInit
        case .tunnelConfirm: .tunnelConfirm
        case .tunnelRefuse: .tunnelRefuse
        case .tunnelAllow: .tunnelAllow
        case .tunnelTransfer: .tunnelTransfer
        case .tunnelClose: .tunnelClose
        }
    }
}
