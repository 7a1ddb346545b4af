/// The keys a relay holds for one protected name: the primary key it seals and proves with, and
/// keys it still accepts (rotation without downtime, `Docs/key-rotation.md`).
///
/// Guarantees: the primary comes first in `all`; keys are de-duplicated (constant time); a key is
/// found by its fingerprint.
public struct ClusterKeySet: Sendable {
    public let primary: ClusterKey
    public let accepted: [ClusterKey]

    public init(primary: ClusterKey, accepted: [ClusterKey] = []) {
        self.primary = primary
        var unique: [ClusterKey] = []
        for key in accepted where !key.constantTimeEquals(primary) && !unique.contains(where: { $0.constantTimeEquals(key) }) {
            unique.append(key)
        }
        self.accepted = unique
    }

    /// Primary first, then the accepted keys.
    public var all: [ClusterKey] { [primary] + accepted }

    /// Whether this set holds the key with `fingerprint` (no copy of the key).
    @inline(__always)
    public func holds(_ fingerprint: ClusterKeyFingerprint) -> Bool {
        primary.fingerprint == fingerprint || accepted.contains { $0.fingerprint == fingerprint }
    }

    /// The key with `fingerprint`, if this set holds it.
    public func key(for fingerprint: ClusterKeyFingerprint) -> ClusterKey? {
        if primary.fingerprint == fingerprint { return primary }
        return accepted.first { $0.fingerprint == fingerprint }
    }
}

/// One `--cluster-key`, `--accept-cluster-key` or `--topic-key` option: `NAME=FILE`.
public struct ClusterKeyOption: Sendable, Hashable {
    public enum Role: Sendable, Hashable { case primary, accepted }
    public let kind: ProtectedNameKind
    public let role: Role
    public let name: String
    public let path: String
    /// The flag this option came from, for error messages.
    public let flag: String

    public init(kind: ProtectedNameKind, role: Role, name: String, path: String, flag: String) {
        self.kind = kind
        self.role = role
        self.name = name
        self.path = path
        self.flag = flag
    }

    /// Parses `NAME=FILE`; the first `=` separates, so a name cannot contain `=`. Throws with the
    /// flag in the message.
    public static func parse(_ text: String, kind: ProtectedNameKind, role: Role, flag: String) throws -> ClusterKeyOption {
        guard let equals = text.firstIndex(of: "=") else {
            throw CryptoError(code: .invalidClusterKeyOption,
                              message: "\(flag) \(text): expected NAME=FILE, e.g. \(flag) billing=/etc/plexus/billing.key")
        }
        let name = String(text[..<equals])
        let path = String(text[text.index(after: equals)...])
        guard ProtectedName.nameBytes.contains(name.utf8.count) else {
            throw CryptoError(code: .invalidClusterKeyOption,
                              message: "\(flag) \(text): the \(kind) name must be 1 to 255 bytes")
        }
        guard !path.isEmpty else {
            throw CryptoError(code: .invalidClusterKeyOption, message: "\(flag) \(text): no key file after '='")
        }
        return ClusterKeyOption(kind: kind, role: role, name: name, path: path, flag: flag)
    }
}

/// Every per-cluster and per-topic key a relay holds.
///
/// Guarantees: every name has exactly one primary key; an accepted key without a primary for
/// its name, or two primaries for one name, is refused when loading; fingerprints only are
/// ever shown.
public struct ClusterKeyring: Sendable {
    public let entries: [ProtectedName: ClusterKeySet]

    public init(entries: [ProtectedName: ClusterKeySet] = [:]) { self.entries = entries }

    public static let empty = ClusterKeyring()

    public var isEmpty: Bool { entries.isEmpty }

    /// The keys of `name`, if it is protected here.
    public func keys(for name: ProtectedName) -> ClusterKeySet? { entries[name] }

    /// Reads every key file named by `options` (the key-file rules apply to each).
    public static func load(_ options: [ClusterKeyOption]) throws -> ClusterKeyring {
        var primaries: [ProtectedName: (ClusterKey, ClusterKeyOption)] = [:]
        var accepted: [ProtectedName: [ClusterKey]] = [:]
        var acceptedOptions: [ProtectedName: ClusterKeyOption] = [:]
        for option in options {
            guard let name = ProtectedName(kind: option.kind, name: Array(option.name.utf8)) else {
                throw CryptoError(code: .invalidClusterKeyOption, message: "\(option.flag) \(option.name): invalid name")
            }
            let key = try ClusterKey.load(from: option.path)
            switch option.role {
            case .primary:
                if let (_, earlier) = primaries[name] {
                    throw CryptoError(code: .invalidClusterKeyOption,
                                      message: "\(name) has two primary keys (\(earlier.flag) \(earlier.name)=\(earlier.path) and \(option.flag) \(option.name)=\(option.path)); keep one and pass the other with --accept-cluster-key")
                }
                primaries[name] = (key, option)
            case .accepted:
                accepted[name, default: []].append(key)
                acceptedOptions[name] = option
            }
        }
        for (name, option) in acceptedOptions where primaries[name] == nil {
            throw CryptoError(code: .invalidClusterKeyOption,
                              message: "\(option.flag) \(option.name)=\(option.path) accepts a key for \(name), which has no primary key; add --\(name.kind == .cluster ? "cluster" : "topic")-key \(option.name)=FILE")
        }
        var entries: [ProtectedName: ClusterKeySet] = [:]
        for (name, (primary, _)) in primaries {
            entries[name] = ClusterKeySet(primary: primary, accepted: accepted[name] ?? [])
        }
        return ClusterKeyring(entries: entries)
    }

    /// Protected names with the fingerprints of their keys (primary first), for status and logs.
    public var fingerprints: [(name: ProtectedName, primary: ClusterKeyFingerprint, accepted: [ClusterKeyFingerprint])] {
        entries.sorted { a, b in
            a.key.kind != b.key.kind ? a.key.kind.rawValue < b.key.kind.rawValue : a.key.name.lexicographicallyPrecedes(b.key.name)
        }
            .map { ($0.key, $0.value.primary.fingerprint, $0.value.accepted.map(\.fingerprint)) }
    }
}
