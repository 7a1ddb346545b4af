/// A relay's identity: 16 bytes, the first 16 of BLAKE2b-512 of its static X25519 public key
/// (`PlexusCrypto` derives it), stored as two integers so that it is cheap to hash and compare on
/// every frame. The one node ID of every module: membership, sessions, peer links, relay core.
///
/// Guarantees: equality, hashing and ordering are byte-for-byte; members are identified by
/// `NodeID` only, never by address, so a relay that comes back with a new address is the same
/// member.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The first 8 bytes, big-endian.
    public let high: UInt64
    /// The last 8 bytes, big-endian.
    public let low: UInt64

    public static let byteCount = 16

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Builds an ID from exactly 16 bytes; returns nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == NodeID.byteCount else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            if index < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(high: high, low: low)
    }

    /// The 16 bytes of the ID.
    public var bytes: [UInt8] {
        var result = [UInt8]()
        result.reserveCapacity(16)
        for shift in stride(from: 56, through: 0, by: -8) { result.append(UInt8(truncatingIfNeeded: high >> UInt64(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { result.append(UInt8(truncatingIfNeeded: low >> UInt64(shift))) }
        return result
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(high &* 0x9E37_79B9_7F4A_7C15 ^ low)
    }

    /// The hash the standard dictionaries use. Every member keeps several NodeID-keyed tables and
    /// looks them up for each update it receives, so a full SipHash round per lookup was a tenth of
    /// the simulator's time. This is a wyhash-style keyed mix instead: both halves and the table's
    /// per-process random `seed` go through a 64×64→128-bit multiply, so colliding IDs cannot be
    /// chosen without knowing the seed. Consistent with `==` (a function of `high` and `low` only).
    public func _rawHashValue(seed: Int) -> Int {
        let key = UInt64(bitPattern: Int64(seed))
        let first = (high ^ key ^ 0xA076_1D64_78BD_642F).multipliedFullWidth(by: low ^ (key << 29 | key >> 35) ^ 0xE703_7ED1_A0B4_28DB)
        let mixed = (first.high ^ first.low).multipliedFullWidth(by: key ^ 0x8EBC_6AF0_9C88_C6E3)
        return Int(bitPattern: UInt(truncatingIfNeeded: mixed.high ^ mixed.low))
    }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    /// 32 lower-case hex digits.
    public var description: String {
        let digits = Array("0123456789abcdef")
        var text = ""
        text.reserveCapacity(32)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return text
    }

    /// The first 8 hex digits and an ellipsis, for logs and tables that list many nodes.
    public var shortDescription: String { String(description.prefix(8)) + "…" }

}
