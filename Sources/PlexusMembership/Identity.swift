/// A relay's identity in the overlay: 16 opaque bytes (derived from its static key elsewhere).
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

    public var description: String {
        let hex = bytes.prefix(4).map { byte -> String in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
        }
        return hex.joined() + "…"
    }
}

/// Where a relay can be reached: a host string and a port. Data attached to a member, not its
/// identity.
public struct NodeAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }
}

/// A cluster, topic or zone name: a byte string compared byte-for-byte.
public struct Name: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }
    public init(stringLiteral value: String) { self.init(value) }

    public static func < (lhs: Name, rhs: Name) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

    public var description: String { String(decoding: bytes, as: UTF8.self) }
}
