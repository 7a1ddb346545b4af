// The node ID type is shared by every module (PlexusVocabulary); this module derives it.
@_exported import PlexusVocabulary

extension NodeID {
    /// The node ID of a static public key: the first 16 bytes of its BLAKE2b-512 hash. Stable for
    /// a given key, so a relay keeps its ID across restarts with the same identity file.
    public init(staticPublicKey: X25519PublicKey) {
        let digest = Blake2b.hash(staticPublicKey.bytes)
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<8 { high = high << 8 | UInt64(digest[index]) }
        for index in 8..<16 { low = low << 8 | UInt64(digest[index]) }
        self.init(high: high, low: low)
    }
}
