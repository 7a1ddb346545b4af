// Plexus — the Swift client binding: an application's connection to its local relay
// (Iris relay protocol v1, Docs/binding.md, and the DocC catalog in Plexus.docc).
//
// Owns: `Connection` (connect, register a service, request, broadcast, publish, subscribe,
// tunnels; reconnect with backoff that restores registrations and subscriptions; cancellation;
// Codable conveniences), `Subscription`, `Tunnel`, `ServiceHandler` and the one `PlexusError`.
// Decisions live in pure values — `ConnectionMachine` (one session's protocol state) and
// `Supervision` (reconnects and what survives them) — driven by thin shells on SwiftNIO.
