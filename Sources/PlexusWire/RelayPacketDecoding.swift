import NIOCore

extension RelayPacket {
    /// Decodes one R→C packet from the front of `buffer`.
    ///
    /// Returns `nil` and leaves `buffer` untouched when it does not yet hold a whole packet;
    /// on success consumes exactly the packet's bytes. Throws `WireError` for an unknown opcode
    /// (including the client-only SUBSCRIBE and UNSUBSCRIBE), an invalid bool, a length over
    /// `limits`, an over-long varint or a wrong magic.
    public static func decode(from buffer: inout ByteBuffer, limits: WireLimits = .default) throws(WireError) -> RelayPacket? {
        var reader = FieldReader(buffer: buffer)
        guard let packet = try decodeFields(&reader, limits: limits) else { return nil }
        buffer = reader.buffer
        return packet
    }

    private static func decodeFields(_ r: inout FieldReader, limits: WireLimits) throws(WireError) -> RelayPacket? {
        guard let byte = r.readByte() else { return nil }
        guard let opcode = Opcode(rawValue: byte) else { throw .unknownOpcode(byte, direction: "relay-to-client") }
        switch opcode {
        case .initiate:
            guard try r.expectMagic(WireConstants.relayMagic, limit: limits.maxHandshakeFieldBytes) != nil,
                  let version = try r.readBytes(field: "version", limit: limits.maxHandshakeFieldBytes)
            else { return nil }
            return .accept(version: version)
        case .deny:
            guard try r.expectMagic(WireConstants.relayMagic, limit: limits.maxHandshakeFieldBytes) != nil,
                  let reason = try r.readBytes(field: "reason", limit: limits.maxReasonBytes)
            else { return nil }
            return .deny(reason: reason)
        case .close:
            guard let reason = try r.readBytes(field: "reason", limit: limits.maxReasonBytes) else { return nil }
            return .close(reason: reason)
        case .broadcast:
            guard let message = try r.readBytes(field: "message", limit: limits.maxMessageBytes) else { return nil }
            return .broadcast(message: message)
        case .request:
            guard let id = try r.readVarint(field: "request id"),
                  let payload = try r.readBytes(field: "request", limit: limits.maxMessageBytes),
                  let timeout = try r.readVarint(field: "timeout")
            else { return nil }
            return .request(id: id, payload: payload, timeoutMilliseconds: timeout)
        case .reply:
            guard let id = try r.readVarint(field: "request id"),
                  let timedOut = try r.readBool(field: "timed-out")
            else { return nil }
            if timedOut { return .reply(id: id, result: .timedOut) }
            guard let success = try r.readBool(field: "success") else { return nil }
            if success {
                guard let reply = try r.readBytes(field: "reply", limit: limits.maxMessageBytes) else { return nil }
                return .reply(id: id, result: .success(reply))
            }
            guard let fault = try r.readBytes(field: "fault", limit: limits.maxReasonBytes) else { return nil }
            return .reply(id: id, result: .fault(fault))
        case .subscribe, .unsubscribe:
            throw .unknownOpcode(byte, direction: "relay-to-client (SUBSCRIBE/UNSUBSCRIBE are client-only)")
        case .publish:
            guard let topic = try r.readBytes(field: "topic", limit: limits.maxNameBytes),
                  let event = try r.readBytes(field: "event", limit: limits.maxMessageBytes)
            else { return nil }
            return .publish(topic: topic, event: event)
        case .tunnelInit:
            guard let buildID = try r.readVarint(field: "build id"),
                  let chunkLimit = try r.readVarint(field: "chunk limit")
            else { return nil }
            return .tunnelOffer(buildID: buildID, chunkLimit: chunkLimit)
        case .tunnelConfirm:
            guard let id = try r.readVarint(field: "tunnel id"),
                  let timedOut = try r.readBool(field: "timed-out")
            else { return nil }
            if timedOut { return .tunnelResult(id: id, chunkLimit: nil) }
            guard let chunkLimit = try r.readVarint(field: "chunk limit") else { return nil }
            return .tunnelResult(id: id, chunkLimit: chunkLimit)
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
            guard let id = try r.readVarint(field: "tunnel id"),
                  let reason = try r.readBytes(field: "reason", limit: limits.maxReasonBytes)
            else { return nil }
            return .tunnelClose(id: id, reason: reason)
        }
    }
}
