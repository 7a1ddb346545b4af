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

    /// The proof of `name` for `node`'s record at `version` under `key`.
    public static func make(key: ClusterKey, name: ProtectedName, node: NodeID, version: UInt64) -> [UInt8] {
        Sodium.ensureInitialized()
        let message = input(name: name, node: node, version: version)
        var out = [UInt8](repeating: 0, count: byteCount)
        key.proofKey.withUnsafeBytes { k in
            _ = crypto_generichash(&out, byteCount, message, UInt64(message.count),
                                   k.baseAddress!.assumingMemoryBound(to: UInt8.self), k.count)
        }
        return out
    }

    /// Whether `proof` is the proof of `name` for `node`'s record at `version` under `key`.
    public static func verify(_ proof: some Collection<UInt8>, key: ClusterKey, name: ProtectedName, node: NodeID,
                              version: UInt64) -> Bool {
        guard proof.count == byteCount else { return false }
        return ConstantTime.equals(Array(proof), make(key: key, name: name, node: node, version: version))
    }

    static func input(name: ProtectedName, node: NodeID, version: UInt64) -> [UInt8] {
        var bytes = Array(domain.utf8)
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
