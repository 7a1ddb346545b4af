import PlexusNoise

/// Why a relay-to-relay connection failed before its session was established, in the four
/// reasons operators alert on (metric `plexus_peer_handshake_failures_total`).
public enum PeerHandshakeFailure: String, Sendable, CaseIterable, Codable {
    /// No handshake (or preface) within its deadline.
    case timeout
    /// Bytes that are not a handshake of this protocol: an unknown preface, a bad length, an
    /// undecodable handshake payload, a version range with no overlap.
    case malformed
    /// The handshake did not authenticate: another network key, a corrupted or forged message. An
    /// initiator sees the responder close after its last handshake message, which is how a
    /// responder refuses another key (the responder counts `authentication` too).
    case authentication
    /// Refused by the listener's admission (per-source, total or authenticated bounds), or, seen
    /// by a dialer, closed after its message 1 without an answer (`peerClosedBeforeResponding`:
    /// the peer refused the proposed cipher suite, or its admission refused the connection).
    case refused

    /// The reason for a session error, or nil when the error is not a handshake failure: it
    /// happened after establishment, or a responder saw its peer go away mid-handshake (the peer,
    /// or the admission that closed it, counts that failure).
    public init?(_ error: SessionError, role: NoiseRole) {
        guard error.duringHandshake else { return nil }
        switch error.code {
        case .handshakeTimeout:
            self = .timeout
        case .handshakeFailed, .authenticationFailed:
            self = .authentication
        case .peerClosedDuringHandshake:
            guard role == .initiator else { return nil }
            self = .authentication
        case .peerClosedBeforeResponding:
            guard role == .initiator else { return nil }
            self = .refused
        case .unsupportedProtocolVersion, .malformedHandshakePayload, .malformedMessage, .messageLengthOutOfRange,
             .frameTooLarge, .truncated:
            self = .malformed
        case .notEstablished, .closed:
            return nil
        }
    }
}

/// Handshake failures counted by reason: plain integers, kept in loop-bound state and read at
/// scrape time.
public struct PeerHandshakeFailureCounts: Sendable, Codable, Equatable {
    public var timeout = 0
    public var malformed = 0
    public var authentication = 0
    public var refused = 0

    public init() {}

    public subscript(reason: PeerHandshakeFailure) -> Int {
        get {
            switch reason {
            case .timeout: timeout
            case .malformed: malformed
            case .authentication: authentication
            case .refused: refused
            }
        }
        set {
            switch reason {
            case .timeout: timeout = newValue
            case .malformed: malformed = newValue
            case .authentication: authentication = newValue
            case .refused: refused = newValue
            }
        }
    }

    /// Counts `error` if it is a handshake failure (see `PeerHandshakeFailure.init(_:role:)`).
    public mutating func count(_ error: Error, role: NoiseRole) {
        guard let error = error as? SessionError, let reason = PeerHandshakeFailure(error, role: role) else { return }
        self[reason] += 1
    }
}
