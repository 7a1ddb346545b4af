import PlexusNoise

/// The one error type of `PlexusSession`. Every way a session can fail (handshake or
/// transport) is one of these; the session is closed after any of them and no
/// application frame from the failing message is delivered.
public struct SessionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Stable machine-readable category.
    public enum Code: String, Hashable, Sendable {
        case handshakeFailed
        case handshakeTimeout
        case peerClosedDuringHandshake
        /// The initiator's message 1 got no answer before the peer closed: it may not run the
        /// proposed cipher suite (Docs/session-protocol.md, section 2.1), or is no Plexus relay.
        case peerClosedBeforeResponding
        case unsupportedProtocolVersion
        case malformedHandshakePayload
        case authenticationFailed
        case malformedMessage
        case messageLengthOutOfRange
        case frameTooLarge
        case truncated
        case notEstablished
        case closed
    }

    public let code: Code
    public let message: String
    /// True when the failure happened before the session was established.
    public let duringHandshake: Bool

    public var description: String { message }

    static func handshakeFailed(_ underlying: NoiseError) -> SessionError {
        SessionError(code: .handshakeFailed, message: "handshake failed: \(underlying.message)", duringHandshake: true)
    }
    static func handshakeTimeout(_ seconds: Double) -> SessionError {
        SessionError(code: .handshakeTimeout, message: "handshake did not complete within \(seconds) s", duringHandshake: true)
    }
    static let peerClosedDuringHandshake = SessionError(
        code: .peerClosedDuringHandshake,
        message: "peer closed the connection before confirming the handshake (most likely the network keys differ, or it refused our protocol version)",
        duringHandshake: true)
    static let peerClosedBeforeResponding = SessionError(
        code: .peerClosedBeforeResponding,
        message: "peer closed the connection after our first handshake message without answering (it may not run the proposed cipher suite, or is not a Plexus relay of this version)",
        duringHandshake: true)
    static func unsupportedProtocolVersion(ours: ClosedRange<UInt16>, theirs: ClosedRange<UInt16>) -> SessionError {
        SessionError(code: .unsupportedProtocolVersion,
                     message: "peer speaks session protocol versions \(theirs.lowerBound)...\(theirs.upperBound), we speak \(ours.lowerBound)...\(ours.upperBound); upgrade the older relay",
                     duringHandshake: true)
    }
    static func malformedHandshakePayload(_ detail: String) -> SessionError {
        SessionError(code: .malformedHandshakePayload, message: "malformed handshake payload: \(detail)", duringHandshake: true)
    }
    static func authenticationFailed(_ underlying: NoiseError) -> SessionError {
        SessionError(code: .authenticationFailed, message: "transport message rejected: \(underlying.message)", duringHandshake: false)
    }
    static func malformedMessage(_ detail: String, duringHandshake: Bool) -> SessionError {
        SessionError(code: .malformedMessage, message: "malformed session message: \(detail)", duringHandshake: duringHandshake)
    }
    static func messageLengthOutOfRange(_ length: Int, allowed: ClosedRange<Int>, duringHandshake: Bool) -> SessionError {
        SessionError(code: .messageLengthOutOfRange,
                     message: "message length \(length) outside \(allowed.lowerBound)...\(allowed.upperBound)",
                     duringHandshake: duringHandshake)
    }
    static func frameTooLarge(_ size: Int, limit: Int) -> SessionError {
        SessionError(code: .frameTooLarge, message: "application frame of \(size)+ bytes exceeds the \(limit)-byte limit", duringHandshake: false)
    }
    static func truncated(_ pendingBytes: Int) -> SessionError {
        SessionError(code: .truncated,
                     message: "connection closed in the middle of a message or frame (\(pendingBytes) bytes pending)",
                     duringHandshake: false)
    }
    static let notEstablished = SessionError(
        code: .notEstablished, message: "session not established yet; wait for SessionEstablished before writing", duringHandshake: true)
    static let closed = SessionError(code: .closed, message: "session is closed", duringHandshake: false)
}
