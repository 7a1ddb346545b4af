import NIOCore

extension ClientPacket {
    /// Decodes one C→R packet from the front of `buffer`.
    ///
    /// Returns `nil` and leaves `buffer` untouched when it does not yet hold a whole packet;
    /// on success consumes exactly the packet's bytes. Throws `WireError` for an unknown opcode,
    /// an invalid bool, a length over `limits`, an over-long varint or a wrong magic.
    public static func decode(from buffer: inout ByteBuffer, limits: WireLimits = .default) throws(WireError) -> ClientPacket? {
        var reader = FieldReader(buffer: buffer)
        guard let packet = try decodeFields(&reader, limits: limits) else { return nil }
        buffer = reader.buffer
        return packet
    }

    private static func decodeFields(_ r: inout FieldReader, limits: WireLimits) throws(WireError) -> ClientPacket? {
        guard let byte = r.readByte() else { return nil }
        guard let opcode = Opcode(rawValue: byte) else { throw .unknownOpcode(byte, direction: "client-to-relay") }
        switch opcode {
        case .initiate:
            guard try r.expectMagic(WireConstants.clientMagic, limit: limits.maxHandshakeFieldBytes) != nil,
                  let version = try r.readBytes(field: "version", limit: limits.maxHandshakeFieldBytes),
                  let cluster = try r.readBytes(field: "cluster", limit: limits.maxNameBytes)
            else { return nil }
            return .initiate(version: version, cluster: cluster)
        case .deny:
            throw .unknownOpcode(byte, direction: "client-to-relay (DENY is relay-only)")
        case .close:
            return .close
        case .broadcast:
            guard let cluster = try r.readBytes(field: "cluster", limit: limits.maxNameBytes),
                  let message = try r.readBytes(field: "message", limit: limits.maxMessageBytes)
            else { return nil }
            return .broadcast(cluster: cluster, message: message)
        case .request:
            guard let id = try r.readVarint(field: "request id"),
                  let cluster = try r.readBytes(field: "cluster", limit: limits.maxNameBytes),
                  let payload = try r.readBytes(field: "request", limit: limits.maxMessageBytes),
                  let timeout = try r.readVarint(field: "timeout")
            else { return nil }
            return .request(id: id, cluster: cluster, payload: payload, timeoutMilliseconds: timeout)
        case .reply:
            guard let id = try r.readVarint(field: "request id"),
                  let success = try r.readBool(field: "success")
            else { return nil }
            if success {
                guard let reply = try r.readBytes(field: "reply", limit: limits.maxMessageBytes) else { return nil }
                return .reply(id: id, outcome: .success(reply))
            }
            guard let fault = try r.readBytes(field: "fault", limit: limits.maxReasonBytes) else { return nil }
            return .reply(id: id, outcome: .fault(fault))
        case .subscribe:
            guard let topic = try r.readBytes(field: "topic", limit: limits.maxNameBytes) else { return nil }
            return .subscribe(topic: topic)
        case .unsubscribe:
            guard let topic = try r.readBytes(field: "topic", limit: limits.maxNameBytes) else { return nil }
            return .unsubscribe(topic: topic)
        case .publish:
            guard let topic = try r.readBytes(field: "topic", limit: limits.maxNameBytes),
                  let event = try r.readBytes(field: "event", limit: limits.maxMessageBytes)
            else { return nil }
            return .publish(topic: topic, event: event)
        case .tunnelInit:
            guard let id = try r.readVarint(field: "tunnel id"),
                  let cluster = try r.readBytes(field: "cluster", limit: limits.maxNameBytes),
                  let timeout = try r.readVarint(field: "timeout")
            else { return nil }
            return .tunnelInit(id: id, cluster: cluster, timeoutMilliseconds: timeout)
        case .tunnelConfirm:
            guard let buildID = try r.readVarint(field: "build id"),
                  let tunnelID = try r.readVarint(field: "tunnel id")
            else { return nil }
            return .tunnelConfirm(buildID: buildID, tunnelID: tunnelID)
        case .tunnelAllow:
            guard let id = try r.readVarint(field: "tunnel id"),
                  let allowance = try r.readVarint(field: "allowance")
            else { return nil }
            return .tunnelAllow(id: id, allowance: allowance)
        case .tunnelTransfer:
            guard let id = try r.readVarint(field: "tunnel id"),
                  let size = try r.readVarint(field: "size"),
                  let chunk = try r.readBytes(field: "chunk", limit: limits.maxChunkBytes)
            else { return nil }
            return .tunnelTransfer(id: id, sizeOrContinuation: size, chunk: chunk)
        case .tunnelClose:
            guard let id = try r.readVarint(field: "tunnel id") else { return nil }
            return .tunnelClose(id: id)
        }
    }
}
