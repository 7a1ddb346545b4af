// PlexusSession — an encrypted relay ↔ relay session on a TCP stream (Docs/session-protocol.md).
//
// Owns: `NoiseSessionHandler` (a thin NIO shell), and the pure pieces it drives: the XXpsk3
// handshake with keyring fallback (`SessionHandshake`), HELLO and version agreement
// (`SessionEstablishment`), transport framing, fragmentation and rekey (`TransportReader`,
// `TransportWriter`), and `SessionError`. Also what every listener of relay ↔ relay connections
// shares: the peer port's one-byte preface (`PeerPortPreface`, its pure decoder and thin
// handlers) and admission (`ConnectionAdmission`, `AdmissionController`), and the classification
// of handshake failures for metrics (`PeerHandshakeFailure`).
