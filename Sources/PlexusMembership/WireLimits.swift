import PlexusVocabulary

/// Named limits for every length in the membership wire format.
///
/// Guarantees: the encoder never produces, and the decoder never accepts, a value beyond these.
public enum WireLimits {
    /// Wire format version byte at the start of every packet.
    public static let version: UInt8 = 1
    /// Bytes in a host string (UTF-8), at least 1.
    public static let maxHostLength = 255
    /// Bytes in a cluster or topic name, at least 1 (`OverlayLimits.nameBytes`).
    public static let maxNameLength = OverlayLimits.nameBytes.upperBound
    /// Bytes in a zone label (may be empty).
    public static let maxZoneLength = 64
    /// Addresses in one directory record.
    public static let maxAddressesPerRecord = 8
    /// Clusters in one directory record (`OverlayLimits.maxClustersPerRelay`).
    public static let maxClustersPerRecord = OverlayLimits.maxClustersPerRelay
    /// Topics in one directory record (`OverlayLimits.maxTopicsPerRelay`).
    public static let maxTopicsPerRecord = OverlayLimits.maxTopicsPerRelay
    /// Updates piggybacked on one message.
    public static let maxUpdatesPerMessage = 255
    /// Members in one push-pull message.
    public static let maxPushPullMembers = 65_536
    /// Records in one push-pull message.
    public static let maxPushPullRecords = 65_536
    /// Largest load utilization value (permille).
    public static let maxUtilizationPermille: UInt16 = 1_000
    /// Largest packet the decoder accepts at all (stream path); datagrams are further bounded by the
    /// settings' packet budget.
    public static let maxPacketBytes = 16 * 1_024 * 1_024
}

/// Why a packet was rejected by the decoder: the project's one error style, a stable `code` and
/// a `message` that names the field concerned.
public struct MembershipDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable machine-readable category.
    public enum Code: String, Sendable, Hashable {
        case truncated, tooLarge, unsupportedVersion, unknownMessageType, unknownUpdateKind, unknownStatus
        case invalidFlags, lengthOutOfRange, invalidUTF8, valueOutOfRange, trailingBytes
    }

    public let code: Code
    public let message: String
    public var description: String { message }

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public static func truncated(needed: Int, available: Int) -> Self {
        Self(.truncated, "membership packet truncated: \(needed) bytes needed, \(available) available")
    }
    public static func tooLarge(_ size: Int) -> Self {
        Self(.tooLarge, "membership packet of \(size) bytes, over the limit of \(WireLimits.maxPacketBytes)")
    }
    public static func unsupportedVersion(_ version: UInt8) -> Self {
        Self(.unsupportedVersion, "membership wire format version \(version) is not supported (this relay speaks \(WireLimits.version))")
    }
    public static func unknownMessageType(_ type: UInt8) -> Self { Self(.unknownMessageType, "unknown membership message type \(type)") }
    public static func unknownUpdateKind(_ kind: UInt8) -> Self { Self(.unknownUpdateKind, "unknown membership update kind \(kind)") }
    public static func unknownStatus(_ status: UInt8) -> Self { Self(.unknownStatus, "unknown member status \(status)") }
    public static func invalidFlags(_ flags: UInt8) -> Self { Self(.invalidFlags, "invalid flags 0x\(String(flags, radix: 16))") }
    public static func lengthOutOfRange(field: String, length: Int, limit: Int) -> Self {
        Self(.lengthOutOfRange, "field '\(field)' has length \(length), outside the limit of \(limit)")
    }
    public static func invalidUTF8(field: String) -> Self { Self(.invalidUTF8, "field '\(field)' is not valid UTF-8") }
    public static func valueOutOfRange(field: String) -> Self { Self(.valueOutOfRange, "field '\(field)' holds a value out of range") }
    public static func trailingBytes(_ count: Int) -> Self { Self(.trailingBytes, "\(count) bytes after the end of the membership packet") }
}

/// Message type bytes.
enum MessageType: UInt8 {
    case ping = 1, ack = 2, pingRequest = 3, nack = 4, gossip = 5, pushPull = 6
}

/// Update kind bytes.
enum UpdateKind: UInt8 {
    case alive = 1, suspect = 2, dead = 3, left = 4, record = 5
    /// A record followed by its claims section (`ProtectedClaim`).
    case claimedRecord = 6
    /// A record, its claims section and its gateway routes section (`GatewayRoute`).
    case gatewayRecord = 7
}
