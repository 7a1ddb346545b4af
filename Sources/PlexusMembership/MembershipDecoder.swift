/// Decodes membership packets, rejecting malformed input with a `MembershipDecodingError`.
///
/// Guarantees: never traps on any input; every count is checked against its `WireLimits` entry and
/// against the bytes actually remaining (times the smallest possible element size) before any
/// storage is reserved; trailing bytes are an error.
public enum MembershipDecoder {
    public static func decode(_ bytes: [UInt8]) throws(MembershipDecodingError) -> MembershipPacket {
        guard bytes.count <= WireLimits.maxPacketBytes else { throw .tooLarge(bytes.count) }
        var reader = ByteReader(bytes: bytes)
        let version = try reader.u8()
        guard version == WireLimits.version else { throw .unsupportedVersion(version) }
        let typeByte = try reader.u8()
        guard let type = MessageType(rawValue: typeByte) else { throw .unknownMessageType(typeByte) }
        let sender = try reader.id()
        let message: MembershipMessage
        switch type {
        case .ping:
            let sequence = try reader.u32()
            let target = try reader.id()
            message = .ping(sequence: sequence, target: target, updates: try reader.updates())
        case .ack:
            let sequence = try reader.u32()
            message = .ack(sequence: sequence, updates: try reader.updates())
        case .pingRequest:
            let sequence = try reader.u32()
            let target = try reader.id()
            let address = try reader.address()
            message = .pingRequest(sequence: sequence, target: target, targetAddress: address, updates: try reader.updates())
        case .nack:
            message = .nack(sequence: try reader.u32())
        case .gossip:
            message = .gossip(updates: try reader.updates())
        case .pushPull:
            message = try reader.pushPull()
        }
        guard reader.remaining == 0 else { throw .trailingBytes(reader.remaining) }
        return MembershipPacket(sender: sender, message: message)
    }
}

/// Bounds-checked big-endian reader.
struct ByteReader {
    let bytes: [UInt8]
    var position = 0

    var remaining: Int { bytes.count - position }

    mutating func need(_ count: Int) throws(MembershipDecodingError) {
        guard remaining >= count else { throw .truncated(needed: count, available: remaining) }
    }

    mutating func u8() throws(MembershipDecodingError) -> UInt8 {
        try need(1)
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16() throws(MembershipDecodingError) -> UInt16 {
        try need(2)
        defer { position += 2 }
        return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
    }

    mutating func u32() throws(MembershipDecodingError) -> UInt32 {
        try need(4)
        var value: UInt32 = 0
        for offset in 0..<4 { value = value << 8 | UInt32(bytes[position + offset]) }
        position += 4
        return value
    }

    mutating func u64() throws(MembershipDecodingError) -> UInt64 {
        try need(8)
        var value: UInt64 = 0
        for offset in 0..<8 { value = value << 8 | UInt64(bytes[position + offset]) }
        position += 8
        return value
    }

    mutating func id() throws(MembershipDecodingError) -> NodeID {
        let high = try u64()
        return NodeID(high: high, low: try u64())
    }

    mutating func raw(_ count: Int) throws(MembershipDecodingError) -> [UInt8] {
        try need(count)
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    /// Checks a count against its limit and against the remaining input.
    mutating func checkCount(_ count: Int, limit: Int, minimumElementSize: Int, field: String) throws(MembershipDecodingError) {
        guard count <= limit else { throw .lengthOutOfRange(field: field, length: count, limit: limit) }
        try need(count * minimumElementSize)
    }

    mutating func shortBytes(field: String, minimum: Int, limit: Int) throws(MembershipDecodingError) -> [UInt8] {
        let length = Int(try u8())
        guard length >= minimum, length <= limit else {
            throw .lengthOutOfRange(field: field, length: length, limit: limit)
        }
        return try raw(length)
    }

    mutating func address() throws(MembershipDecodingError) -> NodeAddress {
        let host = try shortBytes(field: "host", minimum: 1, limit: WireLimits.maxHostLength)
        let string = String(decoding: host, as: UTF8.self)
        guard Array(string.utf8) == host else { throw .invalidUTF8(field: "host") }
        return NodeAddress(host: string, port: try u16())
    }

    mutating func updates() throws(MembershipDecodingError) -> [MembershipUpdate] {
        let count = Int(try u8())
        try checkCount(count, limit: WireLimits.maxUpdatesPerMessage, minimumElementSize: 1 + 16 + 8, field: "updates")
        var updates = [MembershipUpdate]()
        updates.reserveCapacity(count)
        for _ in 0..<count { updates.append(try update()) }
        return updates
    }

    mutating func update() throws(MembershipDecodingError) -> MembershipUpdate {
        let kindByte = try u8()
        guard let kind = UpdateKind(rawValue: kindByte) else { throw .unknownUpdateKind(kindByte) }
        switch kind {
        case .alive:
            let id = try id(); let incarnation = try u64()
            return .alive(id, incarnation: incarnation, address: try address())
        case .suspect:
            let id = try id(); let incarnation = try u64()
            return .suspect(id, incarnation: incarnation, accuser: try self.id())
        case .dead:
            let id = try id(); let incarnation = try u64()
            return .dead(id, incarnation: incarnation, accuser: try self.id())
        case .left:
            let id = try id()
            return .left(id, incarnation: try u64())
        case .record:
            return .record(try record())
        case .claimedRecord:
            var record = try record()
            record.claims = try claims()
            return .record(record)
        case .gatewayRecord:
            var record = try record()
            record.claims = try claims()
            record.gatewayRoutes = try gatewayRoutes()
            return .record(record)
        }
    }

    mutating func record() throws(MembershipDecodingError) -> DirectoryRecord {
        let node = try id()
        let version = try u64()
        let addressCount = Int(try u8())
        try checkCount(addressCount, limit: WireLimits.maxAddressesPerRecord, minimumElementSize: 4, field: "addresses")
        var addresses = [NodeAddress]()
        addresses.reserveCapacity(addressCount)
        for _ in 0..<addressCount { addresses.append(try address()) }
        let zone = Name(bytes: try shortBytes(field: "zone", minimum: 0, limit: WireLimits.maxZoneLength))
        let clusterCount = Int(try u16())
        try checkCount(clusterCount, limit: WireLimits.maxClustersPerRecord, minimumElementSize: 6, field: "clusters")
        var clusters = [ClusterCapacity]()
        clusters.reserveCapacity(clusterCount)
        for _ in 0..<clusterCount {
            let name = try shortBytes(field: "cluster", minimum: 1, limit: WireLimits.maxNameLength)
            clusters.append(ClusterCapacity(cluster: Name(bytes: name), capacity: try u32()))
        }
        let topicCount = Int(try u16())
        try checkCount(topicCount, limit: WireLimits.maxTopicsPerRecord, minimumElementSize: 2, field: "topics")
        var topics = [Name]()
        topics.reserveCapacity(topicCount)
        for _ in 0..<topicCount {
            topics.append(Name(bytes: try shortBytes(field: "topic", minimum: 1, limit: WireLimits.maxNameLength)))
        }
        let inFlight = try u32()
        let utilization = try u16()
        guard utilization <= WireLimits.maxUtilizationPermille else { throw .valueOutOfRange(field: "utilization") }
        return DirectoryRecord(node: node, version: version, addresses: addresses, zone: zone, clusters: clusters,
                               topics: topics, load: LoadSummary(inFlightRequests: inFlight, utilizationPermille: utilization))
    }

    mutating func pushPull() throws(MembershipDecodingError) -> MembershipMessage {
        let flags = try u8()
        guard flags <= 7 else { throw .invalidFlags(flags) }
        let memberCount = Int(try u32())
        try checkCount(memberCount, limit: WireLimits.maxPushPullMembers, minimumElementSize: 16 + 4 + 8 + 1, field: "members")
        var members = [MemberState]()
        members.reserveCapacity(memberCount)
        for _ in 0..<memberCount {
            let id = try id()
            let address = try address()
            let incarnation = try u64()
            let statusByte = try u8()
            guard let status = MemberStatus(rawValue: statusByte) else { throw .unknownStatus(statusByte) }
            members.append(MemberState(id: id, address: address, incarnation: incarnation, status: status))
        }
        let recordCount = Int(try u32())
        try checkCount(recordCount, limit: WireLimits.maxPushPullRecords, minimumElementSize: 16 + 8 + 1 + 1 + 2 + 2 + 6, field: "records")
        var records = [DirectoryRecord]()
        records.reserveCapacity(recordCount)
        for _ in 0..<recordCount {
            var record = try record()
            if flags & 2 != 0 { record.claims = try claims() }
            if flags & 4 != 0 { record.gatewayRoutes = try gatewayRoutes() }
            records.append(record)
        }
        return .pushPull(isReply: flags & 1 == 1, members: members, records: records)
    }
}
