// PlexusPeerWire — the relay ↔ relay frame codec (Docs/relay-to-relay.md).
//
// Owns: `PeerFrame` (requests, replies, broadcasts, events, tunnel frames, departures), the
// varint-prefixed batches that one session frame carries, their decoder with `PeerFrameLimits`,
// and `PeerFrameError`. Pure: NIOCore only. Used by the relay core (which builds and reads frames)
// and by the peer links (which seal batches into sessions).
