/// A relay's node ID: the first 16 bytes of BLAKE2b-512 of its static X25519 public key.
///
/// Guarantees: stable for a given static key, printable as 32 lower-case hex digits,
/// cheap to hash and compare.
public struct NodeID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Length of a node ID in bytes.
    public static let byteCount = 16
    /// The raw ID bytes.
    public let bytes: [UInt8]

    /// Derives the node ID of a static public key.
    public init(staticPublicKey: X25519PublicKey) {
        bytes = Array(Blake2b.hash(staticPublicKey.bytes).prefix(Self.byteCount))
    }

    /// Wraps exactly 16 bytes, e.g. read from the wire.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == Self.byteCount else {
            throw CryptoError.invalidKeyLength(expected: Self.byteCount, actual: bytes.count, context: "node ID")
        }
        self.bytes = bytes
    }

    public var description: String { hexString(bytes) }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}
