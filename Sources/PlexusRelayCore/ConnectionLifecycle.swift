import NIOCore
import PlexusVocabulary
import PlexusWire

/// The per-connection handshake and lifecycle of spec §5 and §10, as a pure state machine.
///
/// `awaitingHandshake` → (INIT, right version) → `active` → (CLOSE, violation, EOF) → `closed`.
/// The first packet decides: INIT with the right version is accepted, INIT with another version is
/// denied, anything else is dropped silently (it is not an Iris client). A bad magic never gets
/// here: the decoder rejects it, and a decode error before the handshake is also a silent drop.
struct ConnectionLifecycle: Sendable {
    enum State: Equatable, Sendable {
        case awaitingHandshake(deadline: NIODeadline)
        case active(cluster: WireName?)
        case closed
    }

    enum Action: Equatable {
        /// Register (as a member of `cluster` if non-nil), then send INIT (accept).
        case accept(cluster: WireName?)
        /// Send DENY with this reason, then close.
        case deny(reason: String)
        /// Close without a word.
        case dropSilently
        /// A regular packet of an active connection: process it.
        case process
        /// A protocol violation on an active connection: close with this reason.
        case violation(String)
        /// The connection is closed: ignore the packet.
        case ignore
    }

    private(set) var state: State

    init(now: NIODeadline, handshakeTimeout: TimeAmount) {
        state = .awaitingHandshake(deadline: now + handshakeTimeout)
    }

    var isActive: Bool { if case .active = state { return true } else { return false } }
    var isClosed: Bool { state == .closed }
    var isAwaitingHandshake: Bool { if case .awaitingHandshake = state { return true } else { return false } }
    var cluster: WireName? { if case .active(let cluster) = state { return cluster } else { return nil } }

    mutating func packetReceived(_ packet: ClientPacket) -> Action {
        switch state {
        case .closed:
            return .ignore
        case .awaitingHandshake:
            guard case .initiate(let version, let cluster) = packet else {
                state = .closed
                return .dropSilently
            }
            guard version.readableBytesView.elementsEqual(WireConstants.protocolVersion.utf8) else {
                state = .closed
                let text = String(decoding: version.readableBytesView, as: UTF8.self)
                return .deny(reason: WireConstants.unsupportedVersionReason(clientVersion: text))
            }
            if cluster.readableBytes > 0,
               let refusal = OverlayLimits.nameRefusal(kind: "cluster", byteCount: cluster.readableBytes) {
                state = .closed
                return .deny(reason: refusal)
            }
            let name: WireName? = cluster.readableBytes == 0 ? nil : WireName.compact(cluster)
            state = .active(cluster: name)
            return .accept(cluster: name)
        case .active:
            if case .initiate = packet {
                state = .closed
                return .violation("plexus: protocol violation: INIT after the handshake")
            }
            if case .close = packet { state = .closed }
            return .process
        }
    }

    /// The decoder failed. Before the handshake that is a silent drop, after it a violation.
    package mutating func decodeFailed(_ error: String) -> Action {
        switch state {
        case .closed: return .ignore
        case .awaitingHandshake: state = .closed; return .dropSilently
        case .active: state = .closed; return .violation("plexus: protocol violation: \(error)")
        }
    }

    /// The handshake deadline fired: drop the connection if it is still silent.
    mutating func handshakeDeadlinePassed(now: NIODeadline) -> Bool {
        guard case .awaitingHandshake(let deadline) = state, deadline <= now else { return false }
        state = .closed
        return true
    }

    mutating func markClosed() { state = .closed }
}
