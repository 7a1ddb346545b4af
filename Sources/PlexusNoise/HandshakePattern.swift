/// One token of a Noise message pattern (spec section 7, plus `psk` from section 9).
public enum NoiseToken: Sendable, Hashable {
    case e, s, ee, es, se, ss, psk
}

/// A Noise handshake pattern described as data: pre-message tokens for each side and the
/// token list of each message, with psk modifiers already applied.
///
/// Guarantees: the message list is non-empty; `name` is the pattern part of the protocol
/// name (e.g. `XXpsk3`) and is what goes into the protocol name hashed at initialisation.
public struct HandshakePattern: Sendable, Hashable {
    public let name: String
    public let initiatorPreMessage: [NoiseToken]
    public let responderPreMessage: [NoiseToken]
    public let messages: [[NoiseToken]]

    /// True for one-way patterns (N, K, X): every message goes initiator → responder.
    public var isOneWay: Bool { messages.count == 1 }
    /// True when any message has a `psk` token; `e` then also calls MixKey (spec 9.2).
    public var isPSK: Bool { messages.contains { $0.contains(.psk) } }
    /// Number of `psk` tokens, i.e. how many PSKs must be supplied.
    public var presharedKeyCount: Int { messages.reduce(0) { $0 + $1.filter { $0 == .psk }.count } }

    public init(name: String, initiatorPreMessage: [NoiseToken] = [], responderPreMessage: [NoiseToken] = [],
                messages: [[NoiseToken]]) {
        precondition(!messages.isEmpty)
        self.name = name
        self.initiatorPreMessage = initiatorPreMessage
        self.responderPreMessage = responderPreMessage
        self.messages = messages
    }

    /// Which side sends message `index` (0-based).
    public func initiatorSends(message index: Int) -> Bool { isOneWay || index % 2 == 0 }

    /// The relay-to-relay pattern.
    // Cannot throw: constant names of patterns the parser knows (checked by the vector tests).
    public static let XXpsk3 = try! named("XXpsk3")
    public static let XX = try! named("XX")
    public static let NN = try! named("NN")
    public static let NNpsk0 = try! named("NNpsk0")
    public static let NNpsk2 = try! named("NNpsk2")

    /// Builds a pattern from its name: one of the fundamental one-way or interactive
    /// patterns (spec 7.4, 7.5) followed by optional `pskN` modifiers joined by `+`
    /// (e.g. `XXpsk3`, `NNpsk0+psk2`). Throws `invalidPattern` for anything else.
    public static func named(_ name: String) throws -> HandshakePattern {
        var base = name
        var modifiers: [Int] = []
        if let range = name.firstRange(of: "psk") {
            base = String(name[..<range.lowerBound])
            for modifier in name[range.lowerBound...].split(separator: "+") {
                guard modifier.hasPrefix("psk"), let n = Int(modifier.dropFirst(3)) else {
                    throw NoiseError.invalidPattern("unsupported modifier \(modifier) in \(name)")
                }
                modifiers.append(n)
            }
        }
        guard let fundamental = fundamentalPatterns[base] else {
            throw NoiseError.invalidPattern("unknown handshake pattern \(base)")
        }
        var messages = fundamental.messages
        for n in modifiers {
            if n == 0 {
                messages[0].insert(.psk, at: 0)
            } else {
                guard n <= messages.count else { throw NoiseError.invalidPattern("psk\(n) beyond the last message of \(base)") }
                messages[n - 1].append(.psk)
            }
        }
        return HandshakePattern(name: name, initiatorPreMessage: fundamental.initiatorPre,
                                responderPreMessage: fundamental.responderPre, messages: messages)
    }

    private struct Fundamental {
        var initiatorPre: [NoiseToken] = []
        var responderPre: [NoiseToken] = []
        var messages: [[NoiseToken]]
    }

    private static let fundamentalPatterns: [String: Fundamental] = [
        "N": Fundamental(responderPre: [.s], messages: [[.e, .es]]),
        "K": Fundamental(initiatorPre: [.s], responderPre: [.s], messages: [[.e, .es, .ss]]),
        "X": Fundamental(responderPre: [.s], messages: [[.e, .es, .s, .ss]]),
        "NN": Fundamental(messages: [[.e], [.e, .ee]]),
        "NK": Fundamental(responderPre: [.s], messages: [[.e, .es], [.e, .ee]]),
        "NX": Fundamental(messages: [[.e], [.e, .ee, .s, .es]]),
        "KN": Fundamental(initiatorPre: [.s], messages: [[.e], [.e, .ee, .se]]),
        "KK": Fundamental(initiatorPre: [.s], responderPre: [.s], messages: [[.e, .es, .ss], [.e, .ee, .se]]),
        "KX": Fundamental(initiatorPre: [.s], messages: [[.e], [.e, .ee, .se, .s, .es]]),
        "XN": Fundamental(messages: [[.e], [.e, .ee], [.s, .se]]),
        "XK": Fundamental(responderPre: [.s], messages: [[.e, .es], [.e, .ee], [.s, .se]]),
        "XX": Fundamental(messages: [[.e], [.e, .ee, .s, .es], [.s, .se]]),
        "IN": Fundamental(messages: [[.e, .s], [.e, .ee, .se]]),
        "IK": Fundamental(responderPre: [.s], messages: [[.e, .es, .s, .ss], [.e, .ee, .se]]),
        "IX": Fundamental(messages: [[.e, .s], [.e, .ee, .se, .s, .es]]),
    ]
}
