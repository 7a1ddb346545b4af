import CSodium

/// Random 24-byte nonces drawn from libsodium's CSPRNG in blocks: one `randombytes_buf` call (on
/// this system a `getrandom` system call) fills `capacity` nonces. Every nonce is still 24 fresh
/// random bytes, used once.
///
/// Guarantees: no byte of the pool is handed out twice; a value type for one owner (the relay
/// core keeps one on its own event loop), not shared between threads.
public struct NoncePool: Sendable {
    /// Nonces fetched per refill.
    public static let capacity = 170
    private var bytes: [UInt8] = []
    private var offset = 0

    public init() {}

    /// Writes the next nonce to `destination` (24 bytes), refilling the pool when it is empty.
    public mutating func next(into destination: UnsafeMutablePointer<UInt8>) {
        let length = XChaChaPoly.nonceLength
        if offset + length > bytes.count {
            Sodium.ensureInitialized()
            if bytes.isEmpty { bytes = [UInt8](repeating: 0, count: Self.capacity * length) }
            bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
            offset = 0
        }
        bytes.withUnsafeBytes { pool in
            destination.update(from: pool.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self), count: length)
        }
        offset += length
    }
}
