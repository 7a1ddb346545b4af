import NIOCore

extension ByteBuffer {
    /// Appends the C→R encoding of `packet` (spec §4.1). The magic of INIT is written by the
    /// encoder; INIT's `version` is written as given.
    public mutating func writeClientPacket(_ packet: ClientPacket) {
        switch packet {
        case .initiate(let version, let cluster):
            writeInteger(Opcode.initiate.rawValue)
            writeLengthPrefixed(WireConstants.clientMagic)
            writeLengthPrefixed(version)
            writeLengthPrefixed(cluster)
        case .close:
            writeInteger(Opcode.close.rawValue)
        case .broadcast(let cluster, let message):
            writeInteger(Opcode.broadcast.rawValue)
            writeLengthPrefixed(cluster)
            writeLengthPrefixed(message)
        case .request(let id, let cluster, let payload, let timeout):
            writeInteger(Opcode.request.rawValue)
            writeVarint(id)
            writeLengthPrefixed(cluster)
            writeLengthPrefixed(payload)
            writeVarint(timeout)
        case .reply(let id, let outcome):
            writeInteger(Opcode.reply.rawValue)
            writeVarint(id)
            switch outcome {
            case .success(let reply):
                writeBool(true)
                writeLengthPrefixed(reply)
            case .fault(let fault):
                writeBool(false)
                writeLengthPrefixed(fault)
            }
        case .subscribe(let topic):
            writeInteger(Opcode.subscribe.rawValue)
            writeLengthPrefixed(topic)
        case .unsubscribe(let topic):
            writeInteger(Opcode.unsubscribe.rawValue)
            writeLengthPrefixed(topic)
        case .publish(let topic, let event):
            writeInteger(Opcode.publish.rawValue)
            writeLengthPrefixed(topic)
            writeLengthPrefixed(event)
        case .tunnelInit(let id, let cluster, let timeout):
            writeInteger(Opcode.tunnelInit.rawValue)
            writeVarint(id)
            writeLengthPrefixed(cluster)
            writeVarint(timeout)
        case .tunnelConfirm(let buildID, let tunnelID):
            writeInteger(Opcode.tunnelConfirm.rawValue)
            writeVarint(buildID)
            writeVarint(tunnelID)
        case .tunnelAllow(let id, let allowance):
            writeInteger(Opcode.tunnelAllow.rawValue)
            writeVarint(id)
            writeVarint(allowance)
        case .tunnelTransfer(let id, let size, let chunk):
            writeInteger(Opcode.tunnelTransfer.rawValue)
            writeVarint(id)
            writeVarint(size)
            writeLengthPrefixed(chunk)
        case .tunnelClose(let id):
            writeInteger(Opcode.tunnelClose.rawValue)
            writeVarint(id)
        }
    }
}
