import NIOCore

extension ByteBuffer {
    /// Appends the R→C encoding of `packet` (spec §4.2). The relay magic of INIT and DENY is
    /// written by the encoder.
    public mutating func writeRelayPacket(_ packet: RelayPacket) {
        switch packet {
        case .accept(let version):
            writeInteger(Opcode.initiate.rawValue)
            writeLengthPrefixed(WireConstants.relayMagic)
            writeLengthPrefixed(version)
        case .deny(let reason):
            writeInteger(Opcode.deny.rawValue)
            writeLengthPrefixed(WireConstants.relayMagic)
            writeLengthPrefixed(reason)
        case .close(let reason):
            writeInteger(Opcode.close.rawValue)
            writeLengthPrefixed(reason)
        case .broadcast(let message):
            writeInteger(Opcode.broadcast.rawValue)
            writeLengthPrefixed(message)
        case .request(let id, let payload, let timeout):
            writeInteger(Opcode.request.rawValue)
            writeVarint(id)
            writeLengthPrefixed(payload)
            writeVarint(timeout)
        case .reply(let id, let result):
            writeInteger(Opcode.reply.rawValue)
            writeVarint(id)
            switch result {
            case .timedOut:
                writeBool(true)
            case .success(let reply):
                writeBool(false)
                writeBool(true)
                writeLengthPrefixed(reply)
            case .fault(let fault):
                writeBool(false)
                writeBool(false)
                writeLengthPrefixed(fault)
            }
        case .publish(let topic, let event):
            writeInteger(Opcode.publish.rawValue)
            writeLengthPrefixed(topic)
            writeLengthPrefixed(event)
        case .tunnelOffer(let buildID, let chunkLimit):
            writeInteger(Opcode.tunnelInit.rawValue)
            writeVarint(buildID)
            writeVarint(chunkLimit)
        case .tunnelResult(let id, let chunkLimit):
            writeInteger(Opcode.tunnelConfirm.rawValue)
            writeVarint(id)
            if let chunkLimit {
                writeBool(false)
                writeVarint(chunkLimit)
            } else {
                writeBool(true)
            }
        case .tunnelAllow(let id, let allowance):
            writeInteger(Opcode.tunnelAllow.rawValue)
            writeVarint(id)
            writeVarint(allowance)
        case .tunnelTransfer(let id, let size, let chunk):
            writeInteger(Opcode.tunnelTransfer.rawValue)
            writeVarint(id)
            writeVarint(size)
            writeLengthPrefixed(chunk)
        case .tunnelClose(let id, let reason):
            writeInteger(Opcode.tunnelClose.rawValue)
            writeVarint(id)
            writeLengthPrefixed(reason)
        }
    }
}
