
/// What the relay core and a gateway next to it agree on for tunnels that cross overlays
/// (`Docs/federation.md` §4, tunnels).
///
/// Guarantees: a relay core allocates its own tunnel ids from 0 upward, so they never have
/// `idBit` set; a gateway's ids always have it. A relay-to-relay tunnel frame naming an id with
/// the bit therefore belongs to the gateway on the receiving relay, never to its core.
public enum FederatedTunnels {
    /// Set in every tunnel id a gateway allocates.
    public static let idBit: UInt64 = 1 << 63

    /// The pseudo-relay that stands for "the gateway next to this relay" in the relay core's
    /// tunnel tables: frames the core sends there go to the gateway, frames the gateway hands in
    /// arrive from it. No real relay has this id (node ids are BLAKE2b outputs).
    public static let gatewayNode = NodeID(high: .max, low: .max)
}
