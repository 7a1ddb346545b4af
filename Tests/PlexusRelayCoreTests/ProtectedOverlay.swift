import NIOCore
import PlexusCrypto
import PlexusMembership
@testable import PlexusRelayCore
import PlexusPeerWire
import PlexusWire

/// Cluster keys for `VirtualOverlay` tests.
enum TestKeys {
    static let billing = ProtectedName(kind: .cluster, name: Array("billing".utf8))!
    static let news = ProtectedName(kind: .topic, name: Array("news".utf8))!
    static let a = key(1)
    static let b = key(2)

    static func key(_ seed: UInt8) -> ClusterKey {
        (try? ClusterKey(bytes: (0..<32).map { $0 &+ seed &* 37 }))!
    }

    /// A keyring holding `primary` (and `accepted`) for each of `names`.
    static func keyring(_ names: [ProtectedName] = [billing, news], primary: ClusterKey = a,
                        accepted: [ClusterKey] = []) -> ClusterKeyring {
        ClusterKeyring(entries: Dictionary(uniqueKeysWithValues: names.map { ($0, ClusterKeySet(primary: primary, accepted: accepted)) }))
    }
}

extension VirtualOverlay {
    /// Gives relay `relay` these keys (as a reload would) and remembers them for its claims.
    /// `fastSeal: false`: a relay without AES-256-GCM (suite 1 only, no suite claims).
    mutating func setKeys(_ relay: Int, _ keyring: ClusterKeyring, protectedOnly: Bool = false, fastSeal: Bool = true) {
        relays[relay].core.setClusterKeys(keyring, protectedOnly: protectedOnly, fastSeal: fastSeal)
    }

    /// `publishDirectory`, then every relay's record carries the claims its own keys prove (as
    /// `RelayNode` signs them), plus `extraClaims` (forgeries) — and the directory goes out again.
    mutating func publishClaimedDirectory(extraClaims: [Int: [ProtectedClaim]] = [:]) {
        publishDirectory()
        for index in relays.indices {
            let id = ids[index]
            let keyring = relays[index].core.clusterProtection.keyring
            let suites = relays[index].core.clusterProtection.fast.isEnabled ? ClaimProof.fastSuites : nil
            records[id]!.claims = ClusterProtection.claims(of: keyring, node: id, version: records[id]!.version, suites: suites)
                + (extraClaims[index] ?? [])
        }
        let snapshot = DirectorySnapshot(records: records)
        for index in relays.indices { relays[index].core.directoryChanged(snapshot) }
    }
}

extension VirtualOverlay {
    /// Hands `frame` to relay `to` as if relay `from` had sent it, then delivers what follows.
    @discardableResult
    mutating func inject(_ frame: PeerFrame, from: Int, to: Int) -> [[CoreHarness.Output]] {
        let sender = ids[from]
        return on(to) { harness in
            harness.core.receivePeer(frame, from: sender, now: harness.now)
            return harness.collect()
        }
    }
}
