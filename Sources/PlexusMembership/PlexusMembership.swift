// PlexusMembership — who is in the overlay and what each relay serves, as pure state machines.
//
// Owns: SWIM with the Lifeguard refinements (probes, suspicion with confirmations, local health,
// incarnations, leave, gossip with retransmit limits, push-pull), the versioned directory of
// records (clusters, topics, zone, load per relay) with its immutable snapshots, and the binary
// membership codec with its `WireLimits`. No I/O: `PlexusOverlay` runs it on sockets.
