// PlexusRelayCore — every decision a relay makes, as one pure state machine.
//
// Owns: `RelayCore` (client connections and their handshakes, the registry of clusters and
// topics, requests and their deadlines, broadcasts and events, tunnels and their credit, outbound
// queue bounds, draining) and the `OverlayRouter` it owns (the directory as the hot path reads
// it, the balancer, queues toward other relays, forwarded requests, quarantine, tunnels bridged
// to other relays). Events and the current time go in; `RelayEffect`s come out. No sockets, no
// clock, no locks: NIOCore only. Driven by `PlexusRelay.CoreDriver`; tested on virtual time.
