import NIOCore
import PlexusMembership
import PlexusNoise

/// Named limits of the cipher fallback.
enum PeerCipherFallback {
    /// Peers remembered as refusing our proposed cipher; beyond it a refusing peer costs one
    /// failed handshake per dial (still reaching it under ChaChaPoly on the redial).
    static let maximumPeers = 4096
    /// How long a refusal is believed before our preferred cipher is proposed again: the refusal
    /// may have been an admission limit of the moment, or the peer may have been upgraded.
    static let retryAfterNanoseconds: UInt64 = 10 * 60 * 1_000_000_000
}

extension PeerLinks {
    /// The cipher to propose to `peer`: ours, unless that peer refused it in the last
    /// `PeerCipherFallback.retryAfterNanoseconds`.
    func proposal(for peer: NodeID) -> NoiseCipher {
        refusedProposal.proposal(for: peer, preferred: configuration.proposedCipher,
                                 now: NIODeadline.now().uptimeNanoseconds)
    }

    /// Our dial to `peer` proposing a cipher other than ChaChaPoly was closed after message 1
    /// without an answer: the peer's relay may not run that cipher (no hardware AES, or an older
    /// version), which closes at message 1 (a wrong network key fails later, at message 3). Remember it and redial at once under the mandatory
    /// ChaChaPoly suite on the same link, so the frames waiting for it are kept. Returns false
    /// when this was already a ChaChaPoly dial (the caller fails the link as before).
    func fallBack(_ link: Link, peer: NodeID) -> Bool {
        guard link.dialCipher != .chaChaPoly, !closed else { return false }
        refusedProposal.recordRefusal(by: peer, now: NIODeadline.now().uptimeNanoseconds)
        counters.cipherFallbacks += 1
        link.dial = nil
        dial(link, to: peer, cipher: .chaChaPoly)
        return true
    }

    /// The cipher of the established session to `peer`, if there is one.
    public func sessionCipher(to peer: NodeID) -> NoiseCipher? {
        guard let link = links[peer], link.channel != nil else { return nil }
        return link.cipher
    }
}
