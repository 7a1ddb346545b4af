/// # PlexusFederation
///
/// Gateways between overlays (issue 11, `Docs/federation.md`). This module owns:
///
/// * the gateway frame codec (`GatewayFrame`, `GatewayFrameDecoder`, `GatewayFrameEncoder`,
///   `GatewayFrameLimits`, `GatewayFrameError`) — pure, NIOCore only;
/// * interest exchange between gateways (`InterestAnnouncer` for what this overlay wants,
///   `RemoteInterest` for what another overlay announced) — pure, versioned, full or delta;
/// * `GatewayRouter`, the pure state machine of one gateway's links: which link carries a request,
///   broadcast or event, the requests pending on each link and their deadlines, bounded per-link
///   queues, loop prevention and failover;
/// * `OverlayName` (the name every overlay carries, default derived from its network key);
/// * the thin SwiftNIO shell (`GatewayEndpoint`) that runs links as Noise XXpsk3 sessions keyed
///   by the federation key.
