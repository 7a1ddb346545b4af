import CSodium

/// Process-wide libsodium initialisation.
///
/// Guarantees `sodium_init()` runs exactly once (Swift initialises a global `let`
/// lazily and thread-safely) before any wrapper in this module touches libsodium.
public enum Sodium {
    private static let initialisation: Int32 = sodium_init()

    /// Initialises libsodium if that has not happened yet. Cheap after the first call.
    /// Traps if libsodium cannot initialise (no usable randomness source): nothing in
    /// this module can be used safely in that case.
    @inline(__always)
    public static func ensureInitialized() {
        precondition(initialisation >= 0, "libsodium failed to initialise (sodium_init() < 0)")
    }
}
