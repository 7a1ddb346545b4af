// PlexusRelay — the relay's client endpoint: the shell around PlexusRelayCore.
//
// Owns: `RelayServer` (listeners on loopback, lifecycle, graceful shutdown), the per-connection
// NIO handler that decodes client packets and writes coalesced output, and `CoreDriver`, which
// feeds the core its events and the time on one event loop and carries out its effects
// (including frames to other relays through `PeerLinks`). `RelayConfiguration` is its public
// configuration.
