import CSodium

/// The suites a sealed payload can use; the raw value is the envelope's first byte
/// (`Docs/cluster-keys.md`, "Sealing on the wire").
public enum SealSuite: UInt8, Sendable, Hashable, CaseIterable {
    /// Version 1: XChaCha20-Poly1305 under the seal subkey, a random 24-byte nonce. Every relay
    /// opens it.
    case xchacha20poly1305 = 1
    /// Version 2: AES-256-GCM under a per-sender key (`FastSealState`), a counter nonce. Only
    /// relays that advertise it in their directory claims are sent it.
    case aes256gcm = 2
}

/// The 16 random bytes a sending relay draws to name its AES-256-GCM sealing keys: with a cluster
/// key they give one sender's key (`FastSealState`), under which the sender numbers its payloads.
public struct SealEpoch: Hashable, Sendable {
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// 16 fresh bytes from libsodium's CSPRNG.
    public static func random() -> SealEpoch {
        Sodium.ensureInitialized()
        var words: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &words) { randombytes_buf($0.baseAddress!, 16) }
        return SealEpoch(high: words.0, low: words.1)
    }
}

/// The AES-256-GCM side of sealing (suite 2) for one relay: its own sending epoch and counter,
/// and the keys of the epochs it has opened, each with libsodium's precomputed AES state.
///
/// Keys: `fast subkey` = `crypto_kdf` subkey 4 of the cluster key; the key of one sender epoch =
/// BLAKE2b-256 keyed with the fast subkey over `"plexus-seal-aes-v2" ‖ epoch (16)`. Nonce = 4 zero
/// bytes ‖ counter u64 BE. The sender draws a random 128-bit epoch when this state is made, and a
/// new one every `messagesPerEpoch` payloads, and numbers its payloads 0, 1, 2, … under it.
///
/// Guarantees:
/// * A (key, nonce) pair is never used twice: one epoch belongs to one `FastSealState` value
///   (two relays, or one relay after a restart or a key reload, draw independent random 128-bit
///   epochs, so they derive different keys), and within it the counter only grows. As with the
///   Noise cipher states, the value must have one owner (the relay core on its event loop): a
///   copy that seals as well would repeat nonces.
/// * Opening derives nothing that a sealed payload could choose except the epoch; at most
///   `maxOpenedEpochs` derived keys are kept (the cache is emptied when full), and a key is
///   kept only after a payload opened under it.
/// * `isEnabled` is false where the CPU lacks AES-NI/PCLMUL (or the relay was told not to use
///   it): such a state seals and opens suite 1 only.
public struct FastSealState: Sendable {
    /// Payloads one sender epoch seals before the sender draws a new epoch (2^32).
    public static let messagesPerEpoch: UInt64 = 1 << 32
    /// Derived keys of other senders kept at most.
    public static let maxOpenedEpochs = 256
    /// The domain of the epoch key derivation.
    public static let epochDomain = "plexus-seal-aes-v2"

    public let isEnabled: Bool
    /// Payloads sealed under one epoch before the next (`messagesPerEpoch`; smaller in tests).
    public let epochLimit: UInt64
    public private(set) var epoch: SealEpoch
    public private(set) var counter: UInt64 = 0
    private var sendingKeys: [ClusterKeyFingerprint: AESGCMKey] = [:]
    private var openedKeys: [OpenedSlot: AESGCMKey] = [:]
    /// The last key used each way (one comparison instead of a hashed lookup: a relay mostly
    /// seals under one key and opens from one sender at a time).
    private var lastSending: (fingerprint: ClusterKeyFingerprint, key: AESGCMKey)?
    private var lastOpened: (slot: OpenedSlot, key: AESGCMKey)?

    private struct OpenedSlot: Hashable {
        let fingerprint: ClusterKeyFingerprint
        let epoch: SealEpoch
    }

    /// `enabled` defaults to what the CPU can do; `epoch` is random unless given (tests), and so
    /// is every later epoch.
    public init(enabled: Bool = AESGCM.isAvailable, epoch: SealEpoch? = nil, epochLimit: UInt64 = messagesPerEpoch) {
        isEnabled = enabled && AESGCM.isAvailable
        self.epoch = epoch ?? .random()
        self.epochLimit = max(1, min(epochLimit, Self.messagesPerEpoch))
    }

    /// The key, epoch and counter of the next payload this relay seals under `key`.
    mutating func nextSending(_ key: ClusterKey) -> (key: AESGCMKey, epoch: SealEpoch, counter: UInt64)? {
        guard isEnabled else { return nil }
        if counter >= epochLimit {
            epoch = .random()
            counter = 0
            sendingKeys.removeAll()
            lastSending = nil
        }
        let aes: AESGCMKey
        if let last = lastSending, last.fingerprint == key.fingerprint {
            aes = last.key
        } else if let cached = sendingKeys[key.fingerprint] {
            aes = cached
            lastSending = (key.fingerprint, aes)
        } else {
            guard let derived = Self.derive(key, epoch: epoch) else { return nil }
            sendingKeys[key.fingerprint] = derived
            aes = derived
            lastSending = (key.fingerprint, aes)
        }
        defer { counter &+= 1 }
        return (aes, epoch, counter)
    }

    /// The key of `epoch` under the key of `keys` with `fingerprint` (derived and not yet kept
    /// when it is new: call `keep` once a payload opened under it). The caller has checked that
    /// `keys` holds `fingerprint`; the cluster key is only read (copied) when a key is derived.
    mutating func openingKey(_ fingerprint: ClusterKeyFingerprint, in keys: ClusterKeySet,
                             epoch: SealEpoch) -> (key: AESGCMKey, isNew: Bool)? {
        guard isEnabled else { return nil }
        let slot = OpenedSlot(fingerprint: fingerprint, epoch: epoch)
        if let last = lastOpened, last.slot == slot { return (last.key, false) }
        if let cached = openedKeys[slot] {
            lastOpened = (slot, cached)
            return (cached, false)
        }
        guard let key = keys.key(for: fingerprint) else { return nil }
        return Self.derive(key, epoch: epoch).map { ($0, true) }
    }

    /// Keeps the key of an epoch a payload opened under.
    mutating func keep(_ aes: AESGCMKey, for fingerprint: ClusterKeyFingerprint, epoch: SealEpoch) {
        if openedKeys.count >= Self.maxOpenedEpochs { openedKeys.removeAll(keepingCapacity: true) }
        let slot = OpenedSlot(fingerprint: fingerprint, epoch: epoch)
        openedKeys[slot] = aes
        lastOpened = (slot, aes)
    }

    /// The AES-256-GCM key of `epoch` under `key` (nil without AES-NI).
    static func derive(_ key: ClusterKey, epoch: SealEpoch) -> AESGCMKey? {
        var input = Array(epochDomain.utf8)
        appendBigEndian(&input, epoch.high, count: 8)
        appendBigEndian(&input, epoch.low, count: 8)
        let secret = SecretBytes(count: AESGCMKey.byteCount) { out in
            key.fastSealKey.withUnsafeBytes { k in
                _ = crypto_generichash(out.baseAddress!.assumingMemoryBound(to: UInt8.self), AESGCMKey.byteCount,
                                       input, UInt64(input.count), k.baseAddress!.assumingMemoryBound(to: UInt8.self), k.count)
            }
        }
        return try? AESGCMKey(secret: secret)
    }
}
