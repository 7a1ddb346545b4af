/// What a relay tells its peer inside the (encrypted) handshake: the range of session
/// protocol versions it speaks and the addresses it can be reached at.
///
/// Wire format (big-endian; see Docs/session-protocol.md for golden bytes):
/// ```
/// u16 minimumVersion
/// u16 maximumVersion            (>= minimumVersion)
/// u8  addressCount              (<= maximumAddressCount)
/// addressCount × { u8 length (1...maximumAddressLength), UTF-8 bytes }
/// trailing bytes: reserved for later versions, ignored (total <= maximumEncodedLength)
/// ```
/// Guarantees: `decode` enforces every limit and rejects invalid UTF-8; `encode` refuses
/// values that `decode` would reject.
public struct HandshakePayload: Sendable, Hashable {
    /// Most addresses one relay may advertise.
    public static let maximumAddressCount = 8
    /// Longest advertised address in bytes (e.g. `[2001:db8::1]:7946` or `relay.example:7946`).
    public static let maximumAddressLength = 255
    /// Largest payload accepted, including reserved trailing bytes.
    public static let maximumEncodedLength = 4096

    public var versions: ClosedRange<UInt16>
    public var addresses: [String]

    public init(versions: ClosedRange<UInt16>, addresses: [String]) {
        self.versions = versions
        self.addresses = addresses
    }

    /// The encoded bytes. Throws `malformedHandshakePayload` if a limit is exceeded.
    public func encode() throws -> [UInt8] {
        guard addresses.count <= Self.maximumAddressCount else {
            throw SessionError.malformedHandshakePayload("\(addresses.count) addresses, at most \(Self.maximumAddressCount) allowed")
        }
        var out: [UInt8] = []
        out.reserveCapacity(5 + addresses.reduce(0) { $0 + 1 + $1.utf8.count })
        out += [UInt8(versions.lowerBound >> 8), UInt8(versions.lowerBound & 0xff),
                UInt8(versions.upperBound >> 8), UInt8(versions.upperBound & 0xff),
                UInt8(addresses.count)]
        for address in addresses {
            let bytes = Array(address.utf8)
            guard (1...Self.maximumAddressLength).contains(bytes.count) else {
                throw SessionError.malformedHandshakePayload("address of \(bytes.count) bytes, allowed 1...\(Self.maximumAddressLength)")
            }
            out.append(UInt8(bytes.count))
            out += bytes
        }
        return out
    }

    /// Parses a payload; throws `malformedHandshakePayload` naming the violated rule.
    public static func decode(_ bytes: [UInt8]) throws -> HandshakePayload {
        guard bytes.count <= maximumEncodedLength else {
            throw SessionError.malformedHandshakePayload("\(bytes.count) bytes, at most \(maximumEncodedLength) allowed")
        }
        guard bytes.count >= 5 else {
            throw SessionError.malformedHandshakePayload("\(bytes.count) bytes, at least 5 needed")
        }
        let minimum = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        let maximum = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        guard minimum <= maximum else {
            throw SessionError.malformedHandshakePayload("version range \(minimum)...\(maximum) is empty")
        }
        let count = Int(bytes[4])
        guard count <= maximumAddressCount else {
            throw SessionError.malformedHandshakePayload("\(count) addresses, at most \(maximumAddressCount) allowed")
        }
        var offset = 5
        var addresses: [String] = []
        for index in 0..<count {
            guard offset < bytes.count else { throw SessionError.malformedHandshakePayload("address \(index) is missing") }
            let length = Int(bytes[offset])
            offset += 1
            guard length >= 1 else { throw SessionError.malformedHandshakePayload("address \(index) is empty") }
            guard bytes.count - offset >= length else {
                throw SessionError.malformedHandshakePayload("address \(index) is truncated")
            }
            guard let address = String(validating: bytes[offset..<offset + length], as: UTF8.self) else {
                throw SessionError.malformedHandshakePayload("address \(index) is not valid UTF-8")
            }
            addresses.append(address)
            offset += length
        }
        return HandshakePayload(versions: minimum...maximum, addresses: addresses)
    }

    /// The version both sides speak (the highest common one), or nil.
    public func negotiate(with peer: HandshakePayload) -> UInt16? {
        let low = max(versions.lowerBound, peer.versions.lowerBound)
        let high = min(versions.upperBound, peer.versions.upperBound)
        return low <= high ? high : nil
    }
}
