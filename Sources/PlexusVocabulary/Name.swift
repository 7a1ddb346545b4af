/// A cluster, topic or zone name: a byte string compared byte-for-byte (relay protocol v1 §2).
/// The relay core's hot path looks names up as `WireName`, a view of the same bytes inside a
/// read buffer; `Name` is the stored form that the directory and membership carry.
public struct Name: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }
    public init(stringLiteral value: String) { self.init(value) }

    public static func < (lhs: Name, rhs: Name) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

    public var description: String { String(decoding: bytes, as: UTF8.self) }
}
