import NIOCore

/// Parses one complete application frame into a `PeerFrame`.
///
/// The session layer delivers whole application frames, so the decoder is given exactly one
/// frame; "incremental safety" here means: any prefix of a valid frame is rejected with
/// `.truncated(field:)` naming the field it ends in, nothing is read past the end, and no length
/// is trusted before it is checked against `PeerFrameLimits`.
///
/// Guarantees: returns a frame whose binary fields are slices of the input (no payload copy), or
/// throws a `PeerFrameError`; never traps; rejects trailing bytes, unknown types, bools and
/// enumeration bytes out of range, zero chunk limits, empty names and empty chunks.
public struct PeerFrameDecoder: Sendable {
    public var limits: PeerFrameLimits

    public init(limits: PeerFrameLimits = .default) {
        self.limits = limits
    }

    public func decode(_ frame: ByteBuffer) throws(PeerFrameError) -> PeerFrame {
        var reader = PeerFieldReader(buffer: frame)
        guard let typeByte = reader.buffer.readInteger(as: UInt8.self) else { throw .emptyFrame }
        guard let type = PeerFrameType(rawValue: typeByte) else { throw .unknownFrameType(typeByte) }
        let decoded = try decodeBody(type, &reader)
        guard reader.buffer.readableBytes == 0 else {
            throw .trailingBytes(count: reader.buffer.readableBytes)
        }
        return decoded
    }

    private func decodeBody(_ type: PeerFrameType, _ r: inout PeerFieldReader) throws(PeerFrameError) -> PeerFrame {
        switch type {
        case .request:
            let id = try r.varint("request id")
            let cluster = try r.name("cluster", limit: limits.maxNameBytes)
            let left = try r.varint("milliseconds left")
            let payload = try r.bytes("payload", limit: limits.maxMessageBytes)
            return .request(id: id, cluster: cluster, millisecondsLeft: left, payload: payload)
        case .reply:
            let id = try r.varint("request id")
            let kind = try r.byte("outcome")
            switch kind {
            case 0: return .reply(id: id, outcome: .success(reply: try r.bytes("reply", limit: limits.maxMessageBytes)))
            case 1: return .reply(id: id, outcome: .fault(try r.bytes("fault", limit: limits.maxMessageBytes)))
            case 2: return .reply(id: id, outcome: .timedOut)
            case 3: return .reply(id: id, outcome: .failed(reason: try r.bytes("reason", limit: limits.maxReasonBytes)))
            default: throw .invalidByte(kind, field: "outcome")
            }
        case .broadcast:
            let cluster = try r.name("cluster", limit: limits.maxNameBytes)
            return .broadcast(cluster: cluster, message: try r.bytes("message", limit: limits.maxMessageBytes))
        case .publish:
            let topic = try r.name("topic", limit: limits.maxNameBytes)
            return .publish(topic: topic, event: try r.bytes("event", limit: limits.maxMessageBytes))
        case .tunnelInit:
            let id = try r.varint("tunnel id")
            let cluster = try r.name("cluster", limit: limits.maxNameBytes)
            return .tunnelInit(tunnelID: id, cluster: cluster, millisecondsLeft: try r.varint("milliseconds left"))
        case .tunnelConfirm:
            let initiator = try r.varint("initiator tunnel id")
            let acceptor = try r.varint("acceptor tunnel id")
            let limit = try r.varint("chunk limit")
            guard limit > 0 else { throw .mustNotBeEmpty(field: "chunk limit") }
            guard limit <= UInt64(limits.maxChunkBytes) else {
                throw .lengthOverLimit(field: "chunk limit", length: limit, limit: limits.maxChunkBytes)
            }
            return .tunnelConfirm(initiatorTunnelID: initiator, acceptorTunnelID: acceptor, chunkLimit: limit)
        case .tunnelRefuse:
            let id = try r.varint("initiator tunnel id")
            return .tunnelRefuse(initiatorTunnelID: id, reason: try r.bytes("reason", limit: limits.maxReasonBytes))
        case .tunnelAllow:
            let id = try r.varint("tunnel id")
            return .tunnelAllow(tunnelID: id, bytes: try r.varint("allowance"))
        case .tunnelTransfer:
            let id = try r.varint("tunnel id")
            let size = try r.varint("size or continuation")
            let chunk = try r.name("chunk", limit: limits.maxChunkBytes)
            return .tunnelTransfer(tunnelID: id, sizeOrContinuation: size, chunk: chunk)
        case .tunnelClose:
            let id = try r.varint("tunnel id")
            return .tunnelClose(tunnelID: id, reason: try r.bytes("reason", limit: limits.maxReasonBytes))
        case .departure:
            let kind = try r.byte("departure")
            guard let departure = PeerDeparture(rawValue: kind) else { throw .invalidByte(kind, field: "departure") }
            return .departure(departure)
        case .gatewayBroadcast:
            let overlay = try r.name("overlay", limit: limits.maxNameBytes)
            let cluster = try r.name("cluster", limit: limits.maxNameBytes)
            return .gatewayBroadcast(overlay: overlay, cluster: cluster, message: try r.bytes("message", limit: limits.maxMessageBytes))
        case .gatewayPublish:
            let overlay = try r.name("overlay", limit: limits.maxNameBytes)
            let topic = try r.name("topic", limit: limits.maxNameBytes)
            return .gatewayPublish(overlay: overlay, topic: topic, event: try r.bytes("event", limit: limits.maxMessageBytes))
        case .gatewayCongestion:
            let overlay = try r.name("overlay", limit: limits.maxNameBytes)
            let flag = try r.byte("congested")
            guard flag <= 1 else { throw .invalidByte(flag, field: "congested") }
            return .gatewayCongestion(overlay: overlay, congested: flag == 1)
        }
    }
}

/// Reads varints, bytes and length-prefixed fields from one frame, throwing on truncation.
struct PeerFieldReader {
    var buffer: ByteBuffer

    mutating func byte(_ field: String) throws(PeerFrameError) -> UInt8 {
        guard let value = buffer.readInteger(as: UInt8.self) else { throw .truncated(field: field) }
        return value
    }

    mutating func varint(_ field: String) throws(PeerFrameError) -> UInt64 {
        var value: UInt64 = 0
        for position in 0..<PeerFrameLimits.maxVarintBytes {
            guard let byte = buffer.readInteger(as: UInt8.self) else { throw .truncated(field: field) }
            let group = UInt64(byte & 0x7f)
            if position == PeerFrameLimits.maxVarintBytes - 1 && (byte & 0x80 != 0 || group > 1) {
                throw .varintTooLong(field: field)
            }
            value |= group << UInt64(7 * position)
            if byte & 0x80 == 0 { return value }
        }
        throw .varintTooLong(field: field)
    }

    /// A length-prefixed field of at most `limit` bytes, as a slice.
    mutating func bytes(_ field: String, limit: Int) throws(PeerFrameError) -> ByteBuffer {
        let length = try varint(field)
        guard length <= UInt64(limit) else { throw .lengthOverLimit(field: field, length: length, limit: limit) }
        guard let slice = buffer.readSlice(length: Int(length)) else { throw .truncated(field: field) }
        return slice
    }

    /// A length-prefixed field that must also be non-empty (names, chunks).
    mutating func name(_ field: String, limit: Int) throws(PeerFrameError) -> ByteBuffer {
        let value = try bytes(field, limit: limit)
        guard value.readableBytes > 0 else { throw .mustNotBeEmpty(field: field) }
        return value
    }
}
