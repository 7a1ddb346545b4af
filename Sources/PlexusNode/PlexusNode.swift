// PlexusNode — one relay in an overlay, wired.
//
// Owns: `RelayNode`, which starts the client endpoint, the relay ↔ relay sessions and the overlay
// together, feeds directory snapshots and relay deaths to the relay core, publishes the core's
// interest as the relay's directory record, and runs the graceful leave.
