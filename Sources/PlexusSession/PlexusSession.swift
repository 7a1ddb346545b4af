// PlexusSession — an encrypted relay ↔ relay session on a TCP stream (Docs/session-protocol.md).
//
// Owns: `NoiseSessionHandler` (a thin NIO shell), and the pure pieces it drives: the XXpsk3
// handshake with keyring fallback (`SessionHandshake`), HELLO and version agreement
// (`SessionEstablishment`), transport framing, fragmentation and rekey (`TransportReader`,
// `TransportWriter`), and `SessionError`.
