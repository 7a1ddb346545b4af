/// Encodes membership packets into the compact binary format of `Docs/membership-protocol.md`,
/// and computes encoded sizes without encoding (for the packet budget).
///
/// Guarantees: deterministic output; `encodedSize(of:)` equals `encode(_:).count`; inputs beyond
/// `WireLimits` are a programming error and trap (the state machine never produces them).
public enum MembershipEncoder {
    /// Header: version, type, sender ID.
    public static let headerSize = 2 + NodeID.byteCount

    public static func encode(_ packet: MembershipPacket) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes.reserveCapacity(encodedSize(of: packet))
        writer.u8(WireLimits.version)
        switch packet.message {
        case .ping(let sequence, let target, let updates):
            writer.u8(MessageType.ping.rawValue); writer.id(packet.sender)
            writer.u32(sequence); writer.id(target); writer.updates(updates)
        case .ack(let sequence, let updates):
            writer.u8(MessageType.ack.rawValue); writer.id(packet.sender)
            writer.u32(sequence); writer.updates(updates)
        case .pingRequest(let sequence, let target, let address, let updates):
            writer.u8(MessageType.pingRequest.rawValue); writer.id(packet.sender)
            writer.u32(sequence); writer.id(target); writer.address(address); writer.updates(updates)
        case .nack(let sequence):
            writer.u8(MessageType.nack.rawValue); writer.id(packet.sender); writer.u32(sequence)
        case .gossip(let updates):
            writer.u8(MessageType.gossip.rawValue); writer.id(packet.sender); writer.updates(updates)
        case .pushPull(let isReply, let members, let records):
            writer.u8(MessageType.pushPull.rawValue); writer.id(packet.sender)
            let withClaims = records.contains { !$0.claims.isEmpty }
            let withRoutes = records.contains { !$0.gatewayRoutes.isEmpty }
            writer.u8((isReply ? 1 : 0) | (withClaims ? 2 : 0) | (withRoutes ? 4 : 0))
            precondition(members.count <= WireLimits.maxPushPullMembers)
            writer.u32(UInt32(members.count))
            for member in members {
                writer.id(member.id); writer.address(member.address)
                writer.u64(member.incarnation); writer.u8(member.status.rawValue)
            }
            precondition(records.count <= WireLimits.maxPushPullRecords)
            writer.u32(UInt32(records.count))
            for record in records {
                writer.record(record)
                if withClaims { writer.claims(record.claims) }
                if withRoutes { writer.gatewayRoutes(record.gatewayRoutes) }
            }
        }
        return writer.bytes
    }

    public static func encodedSize(of packet: MembershipPacket) -> Int {
        headerSize + bodySize(of: packet.message)
    }

    static func bodySize(of message: MembershipMessage) -> Int {
        switch message {
        case .ping(_, _, let updates): 4 + 16 + updatesSize(updates)
        case .ack(_, let updates): 4 + updatesSize(updates)
        case .pingRequest(_, _, let address, let updates): 4 + 16 + size(of: address) + updatesSize(updates)
        case .nack: 4
        case .gossip(let updates): updatesSize(updates)
        case .pushPull(_, let members, let records):
            1 + 4 + members.reduce(0) { $0 + 16 + size(of: $1.address) + 8 + 1 }
                + 4 + records.reduce(0) { $0 + size(of: $1) }
                + (records.contains { !$0.claims.isEmpty } ? records.reduce(0) { $0 + size(of: $1.claims) } : 0)
                + (records.contains { !$0.gatewayRoutes.isEmpty } ? records.reduce(0) { $0 + size(of: $1.gatewayRoutes) } : 0)
        }
    }

    static func updatesSize(_ updates: [MembershipUpdate]) -> Int {
        1 + updates.reduce(0) { $0 + size(of: $1) }
    }

    /// Encoded bytes of one piggybacked update (kind byte included).
    public static func size(of update: MembershipUpdate) -> Int {
        switch update {
        case .alive(_, _, let address): 1 + 16 + 8 + size(of: address)
        case .suspect, .dead: 1 + 16 + 8 + 16
        case .left: 1 + 16 + 8
        case .record(let record):
            record.gatewayRoutes.isEmpty
                ? 1 + size(of: record) + (record.claims.isEmpty ? 0 : size(of: record.claims))
                : 1 + size(of: record) + size(of: record.claims) + size(of: record.gatewayRoutes)
        }
    }

    static func size(of address: NodeAddress) -> Int { 1 + address.host.utf8.count + 2 }

    static func size(of record: DirectoryRecord) -> Int {
        16 + 8
            + 1 + record.addresses.reduce(0) { $0 + size(of: $1) }
            + 1 + record.zone.bytes.count
            + 2 + record.clusters.reduce(0) { $0 + 1 + $1.cluster.bytes.count + 4 }
            + 2 + record.topics.reduce(0) { $0 + 1 + $1.bytes.count }
            + 4 + 2
    }
}

/// Appends big-endian fields to a byte array.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { bytes.append(UInt8(value >> 8)); bytes.append(UInt8(value & 0xFF)) }
    mutating func u32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }
    mutating func u64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }
    mutating func id(_ id: NodeID) { u64(id.high); u64(id.low) }

    mutating func shortBytes(_ value: [UInt8], limit: Int) {
        precondition(value.count <= limit && value.count <= 255, "length beyond wire limit")
        u8(UInt8(value.count)); bytes.append(contentsOf: value)
    }

    mutating func address(_ address: NodeAddress) {
        let host = Array(address.host.utf8)
        precondition(!host.isEmpty, "empty host")
        shortBytes(host, limit: WireLimits.maxHostLength)
        u16(address.port)
    }

    mutating func updates(_ updates: [MembershipUpdate]) {
        precondition(updates.count <= WireLimits.maxUpdatesPerMessage)
        u8(UInt8(updates.count))
        for update in updates { self.update(update) }
    }

    mutating func update(_ update: MembershipUpdate) {
        switch update {
        case .alive(let id, let incarnation, let address):
            u8(UpdateKind.alive.rawValue); self.id(id); u64(incarnation); self.address(address)
        case .suspect(let id, let incarnation, let accuser):
            u8(UpdateKind.suspect.rawValue); self.id(id); u64(incarnation); self.id(accuser)
        case .dead(let id, let incarnation, let accuser):
            u8(UpdateKind.dead.rawValue); self.id(id); u64(incarnation); self.id(accuser)
        case .left(let id, let incarnation):
            u8(UpdateKind.left.rawValue); self.id(id); u64(incarnation)
        case .record(let record):
            if !record.gatewayRoutes.isEmpty {
                u8(UpdateKind.gatewayRecord.rawValue); self.record(record); claims(record.claims)
                gatewayRoutes(record.gatewayRoutes)
            } else if record.claims.isEmpty {
                u8(UpdateKind.record.rawValue); self.record(record)
            } else {
                u8(UpdateKind.claimedRecord.rawValue); self.record(record); claims(record.claims)
            }
        }
    }

    mutating func record(_ record: DirectoryRecord) {
        id(record.node); u64(record.version)
        precondition(record.addresses.count <= WireLimits.maxAddressesPerRecord)
        u8(UInt8(record.addresses.count))
        for address in record.addresses { self.address(address) }
        shortBytes(record.zone.bytes, limit: WireLimits.maxZoneLength)
        precondition(record.clusters.count <= WireLimits.maxClustersPerRecord)
        u16(UInt16(record.clusters.count))
        for cluster in record.clusters {
            precondition(!cluster.cluster.bytes.isEmpty)
            shortBytes(cluster.cluster.bytes, limit: WireLimits.maxNameLength); u32(cluster.capacity)
        }
        precondition(record.topics.count <= WireLimits.maxTopicsPerRecord)
        u16(UInt16(record.topics.count))
        for topic in record.topics {
            precondition(!topic.bytes.isEmpty)
            shortBytes(topic.bytes, limit: WireLimits.maxNameLength)
        }
        u32(record.load.inFlightRequests)
        precondition(record.load.utilizationPermille <= WireLimits.maxUtilizationPermille)
        u16(record.load.utilizationPermille)
    }
}
