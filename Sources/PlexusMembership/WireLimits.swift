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

/// Why a packet was rejected by the decoder.
public enum MembershipDecodingError: Error, Sendable, Equatable {
    case truncated(needed: Int, available: Int)
    case tooLarge(Int)
    case unsupportedVersion(UInt8)
    case unknownMessageType(UInt8)
    case unknownUpdateKind(UInt8)
    case unknownStatus(UInt8)
    case invalidFlags(UInt8)
    case lengthOutOfRange(field: String, length: Int, limit: Int)
    case invalidUTF8(field: String)
    case valueOutOfRange(field: String)
    case trailingBytes(Int)
}

/// Message type bytes.
enum MessageType: UInt8 {
    case ping = 1, ack = 2, pingRequest = 3, nack = 4, gossip = 5, pushPull = 6
}

/// Update kind bytes.
enum UpdateKind: UInt8 {
    case alive = 1, suspect = 2, dead = 3, left = 4, record = 5
}
