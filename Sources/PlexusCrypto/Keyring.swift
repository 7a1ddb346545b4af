/// The network keys a relay holds: one primary key it initiates with, plus secondary keys
/// it still accepts as responder (rotation without downtime; see Docs/key-rotation.md).
///
/// Guarantees: never empty; the primary is always first in `acceptedKeys`; keys are
/// de-duplicated (constant-time comparison).
public struct Keyring: Sendable {
    /// The key used when this relay initiates a session.
    public let primary: NetworkKey
    /// Keys accepted in addition to the primary.
    public let secondary: [NetworkKey]

    /// Builds a keyring; duplicates of the primary or of each other are dropped.
    public init(primary: NetworkKey, secondary: [NetworkKey] = []) {
        self.primary = primary
        var unique: [NetworkKey] = []
        for key in secondary where !key.constantTimeEquals(primary) && !unique.contains(where: { $0.constantTimeEquals(key) }) {
            unique.append(key)
        }
        self.secondary = unique
    }

    /// Every key accepted as responder, primary first.
    public var acceptedKeys: [NetworkKey] { [primary] + secondary }

    /// Loads the keyring from the `--key FILE` and repeatable `--accept-key FILE` options.
    public static func load(primaryPath: String, acceptedPaths: [String] = []) throws -> Keyring {
        let primary = try NetworkKey.load(from: primaryPath)
        let secondary = try acceptedPaths.map { try NetworkKey.load(from: $0) }
        return Keyring(primary: primary, secondary: secondary)
    }
}
