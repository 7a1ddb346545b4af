import NIOCore
import PlexusPeerWire
import PlexusVocabulary

/// Parses one complete application frame into a `GatewayFrame`.
///
/// Guarantees: any proper prefix of a valid frame is rejected with `.truncated(field:)`; no length
/// or count is trusted before it is checked against `GatewayFrameLimits`; unknown types, enumeration
/// bytes out of range, empty names, invalid UTF-8, a full INTEREST with removals and trailing
/// bytes are rejected. Binary fields are slices of the input.
public struct GatewayFrameDecoder: Sendable {
    public var limits: GatewayFrameLimits

    public init(limits: GatewayFrameLimits = .default) {
        self.limits = limits
    }

    public func decode(_ frame: ByteBuffer) throws(GatewayFrameError) -> GatewayFrame {
        var reader = GatewayFieldReader(buffer: frame)
        guard let typeByte = reader.buffer.readInteger(as: UInt8.self) else { throw .emptyFrame }
        guard let type = GatewayFrameType(rawValue: typeByte) else { throw .unknownFrameType(typeByte) }
        let decoded = try decodeBody(type, &reader)
        guard reader.buffer.readableBytes == 0 else { throw .trailingBytes(count: reader.buffer.readableBytes) }
        return decoded
    }

    private func decodeBody(_ type: GatewayFrameType, _ r: inout GatewayFieldReader) throws(GatewayFrameError) -> GatewayFrame {
        switch type {
        case .hello:
            let version = try r.byte("version")
            guard version != 0 else { throw .invalidByte(version, field: "version") }
            let nameBytes = try r.name("overlay", limit: OverlayName.maxBytes)
            guard let text = nameBytes.getString(at: nameBytes.readerIndex, length: nameBytes.readableBytes),
                  let overlay = OverlayName(text) else { throw .invalidText(field: "overlay") }
            guard let idBytes = r.buffer.readBytes(length: NodeID.byteCount), let gateway = NodeID(bytes: idBytes) else {
                throw .truncated(field: "gateway node id")
            }
            return .hello(version: version, overlay: overlay, gateway: gateway)
        case .interest:
            let version = try r.varint("interest version")
            let kindByte = try r.byte("interest kind")
            guard let kind = GatewayInterest.Kind(rawValue: kindByte) else { throw .invalidByte(kindByte, field: "interest kind") }
            let count = try r.varint("change count")
            guard count <= UInt64(limits.maxInterestChanges) else {
                throw .lengthOverLimit(field: "change count", length: count, limit: limits.maxInterestChanges)
            }
            var changes: [GatewayInterest.Change] = []
            changes.reserveCapacity(Int(count))
            for _ in 0..<count {
                let opcode = try r.byte("change")
                let name = try r.text("change name", limit: limits.maxNameBytes)
                switch opcode {
                case 0: changes.append(.addCluster(name))
                case 1: changes.append(.addTopic(name))
                case 2 where kind == .delta: changes.append(.removeCluster(name))
                case 3 where kind == .delta: changes.append(.removeTopic(name))
                default: throw .invalidByte(opcode, field: "change")
                }
            }
            return .interest(GatewayInterest(version: version, kind: kind, changes: changes))
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
        case .event:
            let topic = try r.name("topic", limit: limits.maxNameBytes)
            guard let idBytes = r.buffer.readBytes(length: NodeID.byteCount), let publisher = NodeID(bytes: idBytes) else {
                throw .truncated(field: "publisher")
            }
            let sequence = try r.varint("sequence")
            return .event(topic: topic, publisher: publisher, sequence: sequence,
                          event: try r.bytes("event", limit: limits.maxMessageBytes))
        case .ping:
            return .ping(nonce: try r.varint("nonce"))
        case .pong:
            return .pong(nonce: try r.varint("nonce"))
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
        }
    }
}

/// Reads varints and length-prefixed fields from one frame, throwing on truncation.
struct GatewayFieldReader {
    var buffer: ByteBuffer

    mutating func byte(_ field: String) throws(GatewayFrameError) -> UInt8 {
        guard let value = buffer.readInteger(as: UInt8.self) else { throw .truncated(field: field) }
        return value
    }

    mutating func varint(_ field: String) throws(GatewayFrameError) -> UInt64 {
        var value: UInt64 = 0
        for position in 0..<GatewayFrameLimits.maxVarintBytes {
            guard let byte = buffer.readInteger(as: UInt8.self) else { throw .truncated(field: field) }
            let group = UInt64(byte & 0x7f)
            if position == GatewayFrameLimits.maxVarintBytes - 1 && (byte & 0x80 != 0 || group > 1) {
                throw .varintTooLong(field: field)
            }
            value |= group << UInt64(7 * position)
            if byte & 0x80 == 0 { return value }
        }
        throw .varintTooLong(field: field)
    }

    mutating func bytes(_ field: String, limit: Int) throws(GatewayFrameError) -> ByteBuffer {
        let length = try varint(field)
        guard length <= UInt64(limit) else { throw .lengthOverLimit(field: field, length: length, limit: limit) }
        guard let slice = buffer.readSlice(length: Int(length)) else { throw .truncated(field: field) }
        return slice
    }

    mutating func name(_ field: String, limit: Int) throws(GatewayFrameError) -> ByteBuffer {
        let value = try bytes(field, limit: limit)
        guard value.readableBytes > 0 else { throw .mustNotBeEmpty(field: field) }
        return value
    }

    /// A non-empty name that must be valid UTF-8.
    mutating func text(_ field: String, limit: Int) throws(GatewayFrameError) -> String {
        let value = try name(field, limit: limit)
        let bytes = Array(value.readableBytesView)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .invalidText(field: field) }
        return text
    }
}
