/// Every error the `Plexus` binding throws.
///
/// Each case says what happened and, in its `description`, what a person can do about it.
/// Cancelling the task that awaits a call throws Swift's `CancellationError` instead.
/// See `Docs/binding.md` for which call throws which case.
public enum PlexusError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No answer in time: the relay reported a timeout (timed-out REPLY / TUN_CONFIRM), or a
    /// local bound passed (tunnel send/receive timeout, the defensive request timer, close bounds).
    case timedOut
    /// No member of `cluster` exists on any relay: the relay answered at once instead of
    /// waiting for the timeout (its answer starts with `plexus: no members`).
    case noMembers(cluster: String)
    /// The remote service's request handler failed; the fault text, verbatim.
    case remoteFault(String)
    /// The relay refused: the handshake (DENY), or a request it will not route now (its
    /// answer starts with `plexus: refused` or `plexus: service overloaded`). The reason is
    /// the relay's text.
    case refused(reason: String)
    /// The connection to the relay was lost (relay restart, crash, network). Operations that
    /// were in flight fail with this; while the binding reconnects, new calls fail with it at
    /// once. With reconnect off (or given up), the connection stays closed.
    case connectionLost(reason: String)
    /// The connection, tunnel or subscription was closed on purpose (`close()`, the relay's
    /// graceful close, `unsubscribe()`) and this call came after, or was pending at the time.
    case closed(reason: String)
    /// A value is larger than a limit of the protocol or of this binding.
    case limitExceeded(String, limit: Int)
    /// The relay broke the protocol (bad packet, unexpected answer); the connection is closed.
    case protocolViolation(String)
    /// The call was rejected locally before anything was sent (empty name, empty message,
    /// timeout out of range, duplicate subscription, …).
    case invalidArgument(String)
    /// The TCP connection to the relay could not be established.
    case connectionFailed(String)

    public var description: String {
        switch self {
        case .timedOut:
            "timed out: no answer within the timeout (is the service slow, or its relay unreachable?)"
        case .noMembers(let cluster):
            "no members: no service is registered in cluster \"\(cluster)\" on any relay (start one, or check the name)"
        case .remoteFault(let text):
            text
        case .refused(let reason):
            "refused by the relay: \(reason)"
        case .connectionLost(let reason):
            "connection to the relay lost: \(reason)"
        case .closed(let reason):
            "closed: \(reason)"
        case .limitExceeded(let what, let limit):
            "limit exceeded: \(what) may be at most \(limit)"
        case .protocolViolation(let text):
            "protocol violation: \(text) (is the address a Plexus or Iris relay?)"
        case .invalidArgument(let text):
            "invalid argument: \(text)"
        case .connectionFailed(let text):
            "connection failed: \(text) (is a relay running there? `scripts/run.sh` starts one on 127.0.0.1:55555)"
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

    /// Prefixes of the relay's own error answers (the contract with the relay): a REPLY whose
    /// fault text starts with one of them did not come from a service.
    enum RelayAnswer {
        static let noMembers = "plexus: no members"
        static let refused = "plexus: refused"
        static let overloaded = "plexus: service overloaded"
    }

    /// The error for a failed REPLY's text: the relay's own answers get their cases, any
    /// other text is a fault raised by the service.
    static func forFault(_ text: String, cluster: String) -> PlexusError {
        if text.hasPrefix(RelayAnswer.noMembers) { return .noMembers(cluster: cluster) }
        if text.hasPrefix(RelayAnswer.refused) {
            return .refused(reason: stripped(text, prefix: RelayAnswer.refused))
        }
        if text.hasPrefix(RelayAnswer.overloaded) {
            return .refused(reason: stripped(text, prefix: "plexus: "))
        }
        return .remoteFault(text)
    }

    private static func stripped(_ text: String, prefix: String) -> String {
        var rest = Substring(text.dropFirst(prefix.count))
        while let first = rest.first, first == ":" || first == " " { rest = rest.dropFirst() }
        return rest.isEmpty ? text : String(rest)
    }
}
