import PlexusMembership
import PlexusPeerWire
@testable import PlexusRelayCore

/// Node ids 1, 2, 3, … for tests.
func node(_ number: UInt64) -> NodeID { NodeID(high: 0, low: number) }

func candidate(_ number: UInt64, zone: Name = "z1", capacity: UInt32 = 10, inflight: Int = 0) -> BalancerCandidate {
    BalancerCandidate(node: node(number), zone: zone, capacity: capacity, inflight: inflight)
}
