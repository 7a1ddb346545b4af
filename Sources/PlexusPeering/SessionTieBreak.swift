import PlexusMembership

/// Which session a relay pair keeps when both relays dial each other, as a pure rule.
///
/// The rule: of two sessions between the same relays, the one dialed by the relay with the
/// smaller node ID wins. Both relays apply it independently and reach the same answer, so each
/// closes only the loser it dialed itself (after writing what it queued on it) and reads the
/// other loser until the peer closes it.
///
/// Guarantees: for every arrival exactly one decision; a relay never closes a session the rule
/// keeps, and never waits for a dial the rule discards.
enum SessionTieBreak {
    /// What the link does with a session that just completed its handshake.
    enum Decision: Equatable {
        /// The link's session already is this one.
        case ignore
        /// Make it the link's session and move queued batches to it.
        case adopt
        /// Make it the link's session and abandon our own dial still in progress (it loses).
        case adoptAndAbandonOwnDial
        /// Inbound loser while our winning dial is in progress: wait for ours; the peer closes it.
        case awaitOwnDial
        /// Duplicate: the new session wins; retire the current one.
        case replaceCurrent
        /// Duplicate: we dialed the loser; retire the new one.
        case retireNew
        /// Duplicate: the peer dialed the loser; keep reading it until the peer closes it.
        case readUntilPeerCloses
    }

    /// What the link is doing when a session arrives.
    enum LinkState: Equatable {
        /// No established session, no dial of ours in progress.
        case idle
        /// Our dial is in progress (not established).
        case dialing
        /// An established session; `isSameSession` when the arrival is that session itself.
        case established(isSameSession: Bool)
    }

    static func decide(local: NodeID, peer: NodeID, dialedByUs: Bool, link: LinkState) -> Decision {
        let winnerIsOurDial = local < peer
        switch link {
        case .established(isSameSession: true):
            return .ignore
        case .established(isSameSession: false):
            if dialedByUs == winnerIsOurDial { return .replaceCurrent }
            return dialedByUs ? .retireNew : .readUntilPeerCloses
        case .dialing where !dialedByUs:
            return winnerIsOurDial ? .awaitOwnDial : .adoptAndAbandonOwnDial
        case .dialing, .idle:
            return .adopt
        }
    }
}
