// PlexusWire — the client ↔ relay codec: Iris relay protocol v1.0-draft2 (Docs/wire-protocol.md).
//
// Owns: the packet types of each direction (`ClientPacket`, `RelayPacket`), incremental decoders
// that accept input split at any byte (as NIO decoders, and as `InboundCumulation` for a handler
// that decodes itself), encoders, and `WireLimits` (a named cap for every length).
// Pure: NIOCore only. Used by the relay's client endpoint and by the Swift binding.
