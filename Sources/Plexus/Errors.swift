/// Every error the `Plexus` binding throws.
///
/// See `Docs/binding.md` for which call throws which case.
public enum PlexusError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The relay reported a timeout (timed-out REPLY / TUN_CONFIRM), a local bound passed
    /// (tunnel send/receive timeout, the defensive request timer, close bounds).
    case timedOut
    /// The connection or tunnel is closed (locally, by the relay, or dropped). An empty
    /// reason never appears: graceful closes say so in words.
    case closed(reason: String)
    /// The remote service's request handler failed; the fault text, verbatim.
    case remoteFault(String)
    /// The relay broke the protocol (bad packet, unexpected answer); the connection is closed.
    case protocolViolation(String)
    /// The relay refused the handshake (DENY), with its reason.
    case denied(reason: String)
    /// The call was rejected locally before anything was sent (empty name, empty message,
    /// timeout out of range, duplicate subscription, …).
    case invalidArgument(String)
    /// The TCP connection to the relay could not be established.
    case connectionFailed(String)

    public var description: String {
        switch self {
        case .timedOut: "timed out"
        case .closed(let reason): "closed: \(reason)"
        case .remoteFault(let text): text
        case .protocolViolation(let text): "protocol violation: \(text)"
        case .denied(let reason): "denied by relay: \(reason)"
        case .invalidArgument(let text): "invalid argument: \(text)"
        case .connectionFailed(let text): "connection failed: \(text)"
        }
    }
}

/// An error a request handler can throw to choose the exact fault text sent to the requester.
public struct ServiceFault: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension PlexusError {
    /// The fault text a request handler's error travels as (spec §7.4).
    static func faultText(for error: any Error) -> String {
        switch error {
        case let fault as ServiceFault: return fault.message
        case PlexusError.remoteFault(let text): return text
        default: return String(describing: error)
        }
    }
}
