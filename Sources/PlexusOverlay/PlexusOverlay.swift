// PlexusOverlay — the membership state machine on sockets (Docs/overlay-transport.md).
//
// Owns: the peer port (`PeerPortListener`: UDP, and one TCP listener whose preface byte sends
// each connection to a membership stream or to the relay's messaging sessions), sealed UDP
// datagrams for probes and gossip, Noise streams for push-pull and joins,
// bootstrap (seeds, DNS, opt-in LAN discovery), and the status the overlay reports. A thin shell
// over `PlexusMembership`.
