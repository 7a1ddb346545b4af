import CSodium

/// A fixed-size heap buffer holding secret bytes.
///
/// Guarantees: the bytes are written only while the object is being initialised and are
/// wiped with `sodium_memzero` in `deinit`; they never leave the object except through
/// the scoped `withUnsafeBytes`. Comparison is constant-time (`sodium_memcmp`).
///
/// `@unchecked Sendable` is sound: the storage is immutable after `init` returns (no API
/// writes to it), so concurrent readers cannot race; `deinit` runs only when no other
/// reference exists.
public final class SecretBytes: @unchecked Sendable {
    private let storage: UnsafeMutableRawBufferPointer

    /// The number of secret bytes.
    public var count: Int { storage.count }

    /// Allocates `count` bytes and lets `initializer` fill them. If it throws, the
    /// partially written buffer is wiped and freed.
    public init(count: Int, initializer: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        Sodium.ensureInitialized()
        // Fill a local buffer first: a class init that throws after `storage` is set would
        // still run `deinit`, so the failure path must own the buffer alone.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        do {
            try initializer(buffer)
        } catch {
            Self.wipe(buffer)
            buffer.deallocate()
            throw error
        }
        storage = buffer
    }

    /// Copies `bytes` into a new secret buffer. The caller remains responsible for its copy.
    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(count: bytes.count) { $0.copyMemory(from: bytes) }
    }

    /// Fresh random bytes from `randombytes_buf`.
    public static func random(count: Int) -> SecretBytes {
        SecretBytes(count: count) { randombytes_buf($0.baseAddress!, count) }
    }

    deinit {
        Self.wipe(storage)
        storage.deallocate()
    }

    /// Scoped read access to the secret bytes. Do not let the pointer escape.
    @inline(__always)
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(storage))
    }

    /// Constant-time equality of length and contents.
    public func constantTimeEquals(_ other: SecretBytes) -> Bool {
        guard count == other.count else { return false }
        return withUnsafeBytes { a in other.withUnsafeBytes { b in ConstantTime.equals(a, b) } }
    }

    static func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
        if let base = buffer.baseAddress, buffer.count > 0 { sodium_memzero(base, buffer.count) }
    }
}

/// Constant-time comparisons backed by `sodium_memcmp`.
public enum ConstantTime {
    /// True when both buffers have the same length and contents; the time taken depends
    /// only on the length, never on where the buffers differ.
    public static func equals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        if a.count == 0 { return true }
        return sodium_memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
    }

    /// Convenience over byte arrays.
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in equals(pa, pb) } }
    }
}

/// Wipes a byte array in place (best effort: Swift may have made copies earlier).
@inline(__always)
func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { SecretBytes.wipe($0) }
}
