import CSodium
import PlexusVocabulary

/// The proof that a relay holds a name's key, carried in its directory record next to the name:
/// a 16-byte keyed BLAKE2b (`crypto_generichash`, key = the proof subkey of the cluster key) over
///
/// ```
/// "plexus-claim-v1" ‖ kind u8 ‖ relay node ID (16) ‖ record version u64 BE ‖ name length u16 BE ‖ name
/// ```
///
/// Guarantees: only a holder of the key can produce it; it is bound to one relay, one record
/// version and one name (of one kind), so it cannot be copied into another relay's record, into a
/// later version of a record, or onto another name; `verify` compares in constant time.
public enum ClaimProof {
    /// Length of a proof on the wire.
    public static let byteCount = 16
    /// The domain-separation prefix of the MAC input.
    public static let domain = "plexus-claim-v1"

    /// The domain of a **suite claim**: a second claim for the same name whose proof also binds the
    /// set of seal suites the relay opens (`suites`, bit n set = suite n), over
    /// `"plexus-claim-v2" ‖ suites u8 ‖ kind u8 ‖ relay node ID (16) ‖ record version u64 BE ‖ name length u16 BE ‖ name`.
    /// Relays that do not know it find a claim that does not verify and pass over it.
    public static let suitesDomain = "plexus-claim-v2"
    /// The suite set of a relay that opens suites 1 and 2 (XChaCha20-Poly1305 and AES-256-GCM).
    public static let fastSuites: UInt8 = 1 << SealSuite.xchacha20poly1305.rawValue | 1 << SealSuite.aes256gcm.rawValue

    /// The proof of `name` for `node`'s record at `version` under `key`; with `suites`, the proof
    /// of a suite claim.
    public static func make(key: ClusterKey, name: ProtectedName, node: NodeID, version: UInt64,
                            suites: UInt8? = nil) -> [UInt8] {
        Sodium.ensureInitialized()
        let prefix = suites.map { Array(suitesDomain.utf8) + [$0] } ?? Array(domain.utf8)
        let message = input(prefix: prefix, name: name, node: node, version: version)
        var out = [UInt8](repeating: 0, count: byteCount)
        key.proofKey.withUnsafeBytes { k in
            _ = crypto_generichash(&out, byteCount, message, UInt64(message.count),
                                   k.baseAddress!.assumingMemoryBound(to: UInt8.self), k.count)
        }
        return out
    }

    /// Whether `proof` is the proof of `name` for `node`'s record at `version` under `key` (with
    /// `suites`: of a suite claim for exactly that suite set).
    public static func verify(_ proof: some Collection<UInt8>, key: ClusterKey, name: ProtectedName, node: NodeID,
                              version: UInt64, suites: UInt8? = nil) -> Bool {
        guard proof.count == byteCount else { return false }
        return ConstantTime.equals(Array(proof), make(key: key, name: name, node: node, version: version, suites: suites))
    }

    static func input(prefix: [UInt8], name: ProtectedName, node: NodeID, version: UInt64) -> [UInt8] {
        var bytes = prefix
        bytes.reserveCapacity(bytes.count + 1 + 16 + 8 + 2 + name.name.count)
        bytes.append(name.kind.rawValue)
        bytes += node.bytes
        appendBigEndian(&bytes, version, count: 8)
        appendBigEndian(&bytes, UInt64(name.name.count), count: 2)
        bytes += name.name
        return bytes
    }
}

@inline(__always)
func appendBigEndian(_ bytes: inout [UInt8], _ value: UInt64, count: Int) {
    for index in (0..<count).reversed() { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * index))) }
}
