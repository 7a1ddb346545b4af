/// # PlexusGateway
///
/// The thin SwiftNIO shell of federation (`Docs/federation.md`): `GatewayEndpoint` listens on the
/// gateway port and dials the configured gateways of other overlays, runs each link as a Noise
/// XXpsk3 session keyed by the federation key (`PlexusSession`), and drives the pure
/// `PlexusFederation.GatewayRouter` on one event loop. It knows nothing of the relay: the node
/// wires its `GatewayHooks` to the relay core and the directory.
