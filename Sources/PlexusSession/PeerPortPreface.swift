/// The one byte a dialer writes on a TCP connection to a relay's peer port before the Noise
/// handshake: it says which of the two kinds of session follows, so membership streams and
/// relay-to-relay messaging sessions share one listener (Docs/overlay-transport.md, "One peer port").
///
/// The byte is not authenticated (it precedes the handshake); it only selects the pipeline. Both
/// kinds then run the same Noise XXpsk3 handshake, so a forged byte gains nothing but a
/// handshake of the other kind.
public enum PeerPortPreface: UInt8, Sendable, CaseIterable {
    /// 'M': a short-lived membership stream (one `MembershipPacket` per session).
    case membershipStream = 0x4D
    /// 'S': a persistent relay-to-relay messaging session (`PeerFrame` batches).
    case messagingSession = 0x53

    /// Named limit: the preface is exactly this many bytes; nothing more is read before the
    /// session's pipeline is installed.
    public static let length = 1
    /// Named limit: an accepted connection must deliver its preface within this many
    /// milliseconds of being accepted, else it is closed (`PeerPortPrefaceError.Code.timedOut`).
    public static let deadlineMilliseconds: Int64 = 3_000

    /// The bytes a dialer writes.
    public var bytes: [UInt8] { [rawValue] }
}

/// Why an accepted peer-port connection was closed before its session began.
public struct PeerPortPrefaceError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// The first byte is neither 'M' nor 'S'.
        case unknownPreface
        /// A known preface for a kind of session this listener does not serve (a membership
        /// listener without relay-to-relay sessions, or the stand-alone session listener).
        case unservedPreface
        /// No byte arrived within `PeerPortPreface.deadlineMilliseconds`.
        case timedOut
    }

    public let code: Code
    public let message: String
    public var description: String { message }

    public static func unknownPreface(_ byte: UInt8) -> PeerPortPrefaceError {
        PeerPortPrefaceError(code: .unknownPreface,
                             message: "peer-port connection began with 0x\(String(byte, radix: 16)), expected 0x4d (membership) or 0x53 (session); is this a Plexus relay of this version?")
    }
    public static func unservedPreface(_ kind: PeerPortPreface) -> PeerPortPrefaceError {
        PeerPortPrefaceError(code: .unservedPreface, message: "peer-port connection asked for \(kind), which this listener does not serve")
    }
    public static let timedOut = PeerPortPrefaceError(
        code: .timedOut, message: "peer-port connection sent no preface within \(PeerPortPreface.deadlineMilliseconds) ms")
}

/// The pure decision on an accepted connection's first bytes: which session follows, or why it
/// is refused. Feed it the bytes received so far and the time; it never reads past the preface.
public struct PeerPortPrefaceDecoder: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// No byte yet and the deadline has not passed.
        case needMoreBytes
        /// The preface names this kind; `PeerPortPreface.length` bytes were consumed, the rest
        /// belong to the session.
        case route(PeerPortPreface)
        /// Close the connection.
        case reject(PeerPortPrefaceError)
    }

    /// Monotonic milliseconds after which a connection without its preface is refused.
    public let deadline: Int64
    /// The kinds this listener serves; others are refused as `unservedPreface`.
    public let served: Set<PeerPortPreface>
    public private(set) var outcome: Outcome = .needMoreBytes

    public init(acceptedAt now: Int64, served: Set<PeerPortPreface> = Set(PeerPortPreface.allCases),
                deadlineMilliseconds: Int64 = PeerPortPreface.deadlineMilliseconds) {
        self.deadline = now + deadlineMilliseconds
        self.served = served
    }

    /// Decides on the first received byte (if any). Once decided, the outcome never changes.
    public mutating func receive(_ bytes: some Collection<UInt8>, now: Int64) -> Outcome {
        guard outcome == .needMoreBytes else { return outcome }
        guard let first = bytes.first else { return expire(now: now) }
        if now >= deadline {
            outcome = .reject(.timedOut)
        } else if let kind = PeerPortPreface(rawValue: first) {
            outcome = served.contains(kind) ? .route(kind) : .reject(.unservedPreface(kind))
        } else {
            outcome = .reject(.unknownPreface(first))
        }
        return outcome
    }

    /// The deadline check: `.reject(.timedOut)` once `now` is past it without a preface.
    public mutating func expire(now: Int64) -> Outcome {
        if outcome == .needMoreBytes, now >= deadline { outcome = .reject(.timedOut) }
        return outcome
    }
}
