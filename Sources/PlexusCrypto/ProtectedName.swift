/// What a cluster key protects: a cluster (requests, replies, broadcasts, tunnels) or a topic
/// (events). The raw values are the kind byte of directory claims and of claim proofs.
public enum ProtectedNameKind: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case cluster = 1
    case topic = 2

    public var description: String { self == .cluster ? "cluster" : "topic" }
}

/// A cluster or topic name under a key.
///
/// Guarantees: the name is 1 … 255 bytes (`ProtectedName.init` refuses others).
public struct ProtectedName: Hashable, Sendable, CustomStringConvertible {
    public let kind: ProtectedNameKind
    public let name: [UInt8]

    /// Bytes in a protected name (the overlay's name limit).
    public static let nameBytes = 1...255

    public init?(kind: ProtectedNameKind, name: [UInt8]) {
        guard Self.nameBytes.contains(name.count) else { return nil }
        self.kind = kind
        self.name = name
    }

    public var description: String { "\(kind) \"\(String(decoding: name, as: UTF8.self))\"" }
}
