import NIOCore

/// One relay-to-relay message, carried as exactly one application frame on the Noise session
/// between two relays (see `Docs/relay-to-relay.md` for the byte layout).
///
/// Guarantees: every case round-trips through `PeerFrameEncoder` / `PeerFrameDecoder` byte for
/// byte; every binary field is a `ByteBuffer` slice of the received frame (decoding copies no
/// payload). Ids are relay-scoped: a request id is allocated by the requesting relay and echoed in
/// its reply; a tunnel id in `tunnelAllow`, `tunnelTransfer` and `tunnelClose` is always the id the
/// *receiving* relay allocated for that tunnel (learned from `tunnelInit` / `tunnelConfirm`).
public enum PeerFrame: Equatable, Sendable {
    /// Deliver `payload` to one member of `cluster` on the receiving relay. `millisecondsLeft` is
    /// how much of the requester's timeout remained when the frame was sent (clocks need not agree).
    case request(id: UInt64, cluster: ByteBuffer, millisecondsLeft: UInt64, payload: ByteBuffer)
    /// The answer to `request(id:)`.
    case reply(id: UInt64, outcome: PeerReplyOutcome)
    /// Deliver `message` to every local member of `cluster` on the receiving relay.
    case broadcast(cluster: ByteBuffer, message: ByteBuffer)
    /// Deliver `event` to every local subscriber of `topic` on the receiving relay.
    case publish(topic: ByteBuffer, event: ByteBuffer)
    /// Open a tunnel to one member of `cluster`; `tunnelID` is the initiating relay's id.
    case tunnelInit(tunnelID: UInt64, cluster: ByteBuffer, millisecondsLeft: UInt64)
    /// The acceptor's client confirmed: `initiatorTunnelID` names the `tunnelInit`,
    /// `acceptorTunnelID` is the accepting relay's id from now on; `chunkLimit` ≥ 1.
    case tunnelConfirm(initiatorTunnelID: UInt64, acceptorTunnelID: UInt64, chunkLimit: UInt64)
    /// The accepting relay could not open the tunnel (no member, timed out, draining).
    case tunnelRefuse(initiatorTunnelID: UInt64, reason: ByteBuffer)
    /// Credit: the sender of this frame accepts `bytes` more chunk bytes on `tunnelID`.
    case tunnelAllow(tunnelID: UInt64, bytes: UInt64)
    /// One chunk (§9.3 of the v1 spec): `sizeOrContinuation` = total message size on the first
    /// chunk, 0 on continuations; `chunk` is non-empty.
    case tunnelTransfer(tunnelID: UInt64, sizeOrContinuation: UInt64, chunk: ByteBuffer)
    /// The tunnel is closed; `reason` empty = graceful.
    case tunnelClose(tunnelID: UInt64, reason: ByteBuffer)
    /// The sending relay is draining (no new requests or tunnels, in-flight ones finish) or
    /// leaving (everything pending on it is about to fail).
    case departure(PeerDeparture)
    /// To a gateway relay (`Docs/federation.md`): send this broadcast, which a client of the
    /// sending relay made, to the other overlay `overlay` (once; that overlay fans it out).
    case gatewayBroadcast(overlay: ByteBuffer, cluster: ByteBuffer, message: ByteBuffer)
    /// To a gateway relay: send this event, published on the sending relay, to the other overlay
    /// `overlay` (once; that overlay fans it out).
    case gatewayPublish(overlay: ByteBuffer, topic: ByteBuffer, event: ByteBuffer)
    /// From a gateway relay: its link to the other overlay `overlay` is over (`true`) or back
    /// under (`false`) its soft bound; a relay pauses the clients whose broadcasts and events it
    /// hands to this gateway for that overlay until it is under again (`Docs/federation.md` §6).
    case gatewayCongestion(overlay: ByteBuffer, congested: Bool)
}

/// How a forwarded request ended, as reported by the serving relay.
public enum PeerReplyOutcome: Equatable, Sendable {
    /// The member answered successfully; `reply` may be empty.
    case success(reply: ByteBuffer)
    /// The member's handler failed with this exact fault text.
    case fault(ByteBuffer)
    /// The serving relay's deadline passed (or the request arrived already expired).
    case timedOut
    /// The serving relay could not deliver (no member, member gone, draining): `reason` says why.
    /// The requesting relay answers its client with timed-out (v1 has no other failure).
    case failed(reason: ByteBuffer)
}

/// The kind of departure notice.
public enum PeerDeparture: UInt8, Equatable, Sendable {
    /// Stop sending new requests and tunnels to this relay; in-flight work still completes.
    case draining = 0
    /// This relay is leaving now: fail everything pending on it.
    case leaving = 1
}

/// The one-byte frame type that starts every peer frame.
public enum PeerFrameType: UInt8, Sendable, CaseIterable {
    case request = 0x01
    case reply = 0x02
    case broadcast = 0x03
    case publish = 0x04
    case tunnelInit = 0x05
    case tunnelConfirm = 0x06
    case tunnelRefuse = 0x07
    case tunnelAllow = 0x08
    case tunnelTransfer = 0x09
    case tunnelClose = 0x0A
    case departure = 0x0B
    case gatewayBroadcast = 0x0C
    case gatewayPublish = 0x0D
    case gatewayCongestion = 0x0E
}

extension PeerFrame {
    /// This frame's type byte.
    public var type: PeerFrameType {
        switch self {
        case .request: .request
        case .reply: .reply
        case .broadcast: .broadcast
        case .publish: .publish
        case .tunnelInit: .tunnelInit
        case .tunnelConfirm: .tunnelConfirm
        case .tunnelRefuse: .tunnelRefuse
        case .tunnelAllow: .tunnelAllow
        case .tunnelTransfer: .tunnelTransfer
        case .tunnelClose: .tunnelClose
        case .departure: .departure
        case .gatewayBroadcast: .gatewayBroadcast
        case .gatewayPublish: .gatewayPublish
        case .gatewayCongestion: .gatewayCongestion
        }
    }
}
