/// The name of an overlay (`--overlay NAME`), shown in status and logs and sent in gateway HELLO.
///
/// Guarantees: 1 … `maxBytes` bytes of lower-case ASCII letters, digits, `-`, `_` and `.`;
/// anything else is refused at construction, so a name is always safe to print and to compare.
public struct OverlayName: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Longest overlay name, in bytes.
    public static let maxBytes = 64

    public let value: String

    /// Nil when `value` is empty, longer than `maxBytes` or has a character outside `[a-z0-9._-]`.
    public init?(_ value: String) {
        guard !value.isEmpty, value.utf8.count <= Self.maxBytes,
              value.utf8.allSatisfy({ Self.allowed($0) }) else { return nil }
        self.value = value
    }

    /// The default name of an overlay whose network key has `fingerprint` (8 hex digits):
    /// `overlay-<fingerprint>`, so every relay of an overlay derives the same name.
    public static func derived(fromKeyFingerprint fingerprint: String) -> OverlayName {
        let cleaned = String(fingerprint.lowercased().utf8.filter { allowed($0) }.prefix(maxBytes - 8).map { Character(UnicodeScalar($0)) })
        return OverlayName("overlay-" + (cleaned.isEmpty ? "unnamed" : cleaned)) ?? OverlayName(unchecked: "overlay-unnamed")
    }

    private init(unchecked value: String) { self.value = value }

    private static func allowed(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2d || byte == 0x5f || byte == 0x2e
    }

    public var description: String { value }

    public static func < (lhs: OverlayName, rhs: OverlayName) -> Bool { lhs.value < rhs.value }
}
