// PlexusPeering — persistent sessions between relays, one per relay pair (Docs/relay-to-relay.md).
//
// Owns: `PeerLinks` (dial on demand, reuse, batching of a tick's frames into one sealed session
// frame, per-peer bounded queue, failure reporting, traffic per peer and handshake failures for
// metrics: `PeerTraffic`, `PeerLinksReport`) and the pure `SessionTieBreak` rule for
// simultaneous dials. Runs on the relay core's event loop, so frames never cross threads.
