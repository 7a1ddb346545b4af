import PlexusCrypto
import PlexusMembership
import PlexusRelayCore

/// How this relay's directory record proves the names it holds keys for: one claim per name,
/// under the primary key, re-signed by membership at every record version (`Docs/cluster-keys.md`).
func claimSigning(_ keyring: ClusterKeyring) -> ClaimSigning? {
    guard !keyring.isEmpty else { return nil }
    return ClaimSigning { node, version in ClusterProtection.claims(of: keyring, node: node, version: version) }
}

extension RelayNode {
    /// Replaces the cluster keys at run time (SIGHUP): the relay core uses them for every new
    /// message at once, and the directory record is re-published with claims under the new
    /// primary keys (other relays route here for a name once they verify the new claim).
    public func updateClusterKeys(_ keyring: ClusterKeyring, protectedOnly: Bool) async {
        await relay.updateClusterKeys(keyring, protectedOnly: protectedOnly)
        overlay.updateOwnRecord([.setClaimSigning(claimSigning(keyring))])
    }
}
