import PlexusCrypto

/// The sealed datagram format of the overlay (see Docs/overlay-transport.md):
///
///     version (1 byte, 0x02) | nonce (24 bytes) | XChaCha20-Poly1305( timestamp (8 bytes, BE, unix ms) | payload ) | tag (16)
///
/// The associated data is the version byte followed by the destination the datagram was sent
/// to (`GossipDestination`: address family, IP address, UDP port), which is not transmitted:
/// a datagram captured on its way to one relay does not authenticate at any other address.
/// One key per keyring entry (derived with `XChaChaKey.derive`); `seal` uses the primary,
/// `open` tries each.
///
/// Guarantees: pure apart from the caller-supplied nonce and time; `open` never returns a
/// payload that did not authenticate for one of the receiver's own destinations, is not fresh,
/// or was seen before.
public struct GossipSeal: Sendable {
    /// 0x02: the destination is bound into the associated data (0x01, without it, is refused).
    public static let version: UInt8 = 0x02
    public static let headerLength = 1 + XChaChaPoly.nonceLength
    public static let timestampLength = 8
    /// Bytes a sealed datagram adds to its payload (49).
    public static let overhead = headerLength + timestampLength + XChaChaPoly.tagLength
    /// Most destinations `open` tries (each costs one authentication attempt per key).
    public static let maximumDestinations = 4

    /// Derived keys, primary first.
    public let keys: [XChaChaKey]

    public init(keyring: Keyring) {
        keys = keyring.acceptedKeys.map { XChaChaKey.derive(from: $0) }
    }

    public init(keys: [XChaChaKey]) {
        precondition(!keys.isEmpty, "a gossip seal needs at least one key")
        self.keys = keys
    }

    /// The associated data for a datagram to `destination`.
    static func associatedData(_ destination: GossipDestination) -> [UInt8] { [version] + destination.bytes }

    /// Seals `payload` for `destination` with the primary key, `nonce` (24 bytes) and `timestamp` (unix ms).
    public func seal(_ payload: [UInt8], to destination: GossipDestination, nonce: [UInt8] = XChaChaPoly.randomNonce(),
                     timestamp: Int64) -> [UInt8] {
        var plaintext = [UInt8]()
        plaintext.reserveCapacity(Self.timestampLength + payload.count)
        for shift in stride(from: 56, through: 0, by: -8) { plaintext.append(UInt8(truncatingIfNeeded: UInt64(bitPattern: timestamp) >> UInt64(shift))) }
        plaintext.append(contentsOf: payload)
        let sealed = XChaChaPoly.seal(key: keys[0], nonce: nonce, associatedData: Self.associatedData(destination),
                                      plaintext: plaintext)
        return [Self.version] + nonce + sealed
    }

    /// Why a datagram was rejected. Each reason has its own counter in `OverlayCounters`.
    public enum Rejection: Error, Sendable, Equatable {
        /// Too short or unknown version byte.
        case malformed
        /// No key authenticates it for any of the receiver's destinations (wrong network key,
        /// corrupted, or sealed for another relay: a replay across relays).
        case authentication
        /// Timestamp outside the replay window (too old or too far in the future).
        case stale
        /// Nonce seen before inside the window.
        case replayed
    }

    /// Opens a datagram that arrived at one of `destinations` (the receiver's own addresses: where
    /// the datagram was delivered, and the address it advertises; at most `maximumDestinations`
    /// are tried), checking freshness and replays against `window` at `now` (unix ms). The nonce
    /// is recorded only after authentication succeeds.
    public func open(_ datagram: [UInt8], at destinations: [GossipDestination], now: Int64,
                     window: inout ReplayWindow) throws(Rejection) -> [UInt8] {
        guard datagram.count >= Self.overhead, datagram[0] == Self.version else { throw .malformed }
        let nonce = Array(datagram[1..<Self.headerLength])
        let body = datagram[Self.headerLength...]
        var plaintext: [UInt8]?
        search: for destination in destinations.prefix(Self.maximumDestinations) {
            let associatedData = Self.associatedData(destination)
            for key in keys {
                if let opened = try? XChaChaPoly.open(key: key, nonce: nonce, associatedData: associatedData, ciphertext: body) {
                    plaintext = opened
                    break search
                }
            }
        }
        guard let plaintext else { throw .authentication }
        var timestamp: UInt64 = 0
        for byte in plaintext.prefix(Self.timestampLength) { timestamp = timestamp << 8 | UInt64(byte) }
        try window.admit(nonce: nonce, timestamp: Int64(bitPattern: timestamp), now: now)
        return Array(plaintext[Self.timestampLength...])
    }
}

/// Freshness and replay check for sealed datagrams.
///
/// A datagram is fresh if its timestamp is within `window` of `now` (both directions, to
/// tolerate clock skew). Nonces of admitted datagrams are remembered until they are older
/// than the window; when more than `capacity` are remembered the oldest is forgotten and
/// everything at or below its timestamp is refused from then on (so forgetting never
/// re-opens a replay).
public struct ReplayWindow: Sendable {
    public let window: Int64
    public let capacity: Int
    private var seen: Set<[UInt8]> = []
    private var order: [(nonce: [UInt8], timestamp: Int64)] = []
    private var head = 0
    /// Timestamps at or below this are refused (raised by forced eviction).
    private var floor: Int64 = .min

    public init(window: Int64 = 30_000, capacity: Int = 65_536) {
        precondition(window > 0 && capacity > 0)
        self.window = window
        self.capacity = capacity
    }

    /// Remembered nonces.
    public var count: Int { seen.count }

    public mutating func admit(nonce: [UInt8], timestamp: Int64, now: Int64) throws(GossipSeal.Rejection) {
        guard timestamp >= now - window, timestamp <= now + window, timestamp > floor else { throw .stale }
        guard !seen.contains(nonce) else { throw .replayed }
        // Forget what the freshness check alone now rejects.
        while head < order.count, order[head].timestamp < now - window {
            seen.remove(order[head].nonce)
            head += 1
        }
        while seen.count >= capacity, head < order.count {
            floor = max(floor, order[head].timestamp)
            seen.remove(order[head].nonce)
            head += 1
        }
        if head > 1024 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        seen.insert(nonce)
        order.append((nonce, timestamp))
    }
}
