import NIOCore

/// Writes `PeerFrame`s in the layout of `Docs/relay-to-relay.md`.
///
/// Guarantees: the output of `encode` decodes back to an equal frame with default limits as long
/// as the frame's fields respect those limits (the encoder does not check them: the sender is
/// trusted to build frames within its own limits).
public enum PeerFrameEncoder {
    /// Appends `frame` to `buffer`.
    public static func encode(_ frame: PeerFrame, into buffer: inout ByteBuffer) {
        buffer.writeInteger(frame.type.rawValue)
        switch frame {
        case let .request(id, cluster, millisecondsLeft, payload):
            writeVarint(id, into: &buffer)
            writeBytes(cluster, into: &buffer)
            writeVarint(millisecondsLeft, into: &buffer)
            writeBytes(payload, into: &buffer)
        case let .reply(id, outcome):
            writeVarint(id, into: &buffer)
            switch outcome {
            case .success(let reply):
                buffer.writeInteger(UInt8(0))
                writeBytes(reply, into: &buffer)
            case .fault(let fault):
                buffer.writeInteger(UInt8(1))
                writeBytes(fault, into: &buffer)
            case .timedOut:
                buffer.writeInteger(UInt8(2))
            case .failed(let reason):
                buffer.writeInteger(UInt8(3))
                writeBytes(reason, into: &buffer)
            }
        case let .broadcast(cluster, message):
            writeBytes(cluster, into: &buffer)
            writeBytes(message, into: &buffer)
        case let .publish(topic, event):
            writeBytes(topic, into: &buffer)
            writeBytes(event, into: &buffer)
        case let .tunnelInit(tunnelID, cluster, millisecondsLeft):
            writeVarint(tunnelID, into: &buffer)
            writeBytes(cluster, into: &buffer)
            writeVarint(millisecondsLeft, into: &buffer)
        case let .tunnelConfirm(initiatorTunnelID, acceptorTunnelID, chunkLimit):
            writeVarint(initiatorTunnelID, into: &buffer)
            writeVarint(acceptorTunnelID, into: &buffer)
            writeVarint(chunkLimit, into: &buffer)
        case let .tunnelRefuse(initiatorTunnelID, reason):
            writeVarint(initiatorTunnelID, into: &buffer)
            writeBytes(reason, into: &buffer)
        case let .tunnelAllow(tunnelID, bytes):
            writeVarint(tunnelID, into: &buffer)
            writeVarint(bytes, into: &buffer)
        case let .tunnelTransfer(tunnelID, sizeOrContinuation, chunk):
            writeVarint(tunnelID, into: &buffer)
            writeVarint(sizeOrContinuation, into: &buffer)
            writeBytes(chunk, into: &buffer)
        case let .tunnelClose(tunnelID, reason):
            writeVarint(tunnelID, into: &buffer)
            writeBytes(reason, into: &buffer)
        case .departure(let kind):
            buffer.writeInteger(kind.rawValue)
        case let .gatewayBroadcast(overlay, cluster, message):
            writeBytes(overlay, into: &buffer)
            writeBytes(cluster, into: &buffer)
            writeBytes(message, into: &buffer)
        case let .gatewayPublish(overlay, topic, event):
            writeBytes(overlay, into: &buffer)
            writeBytes(topic, into: &buffer)
            writeBytes(event, into: &buffer)
        case let .gatewayCongestion(overlay, congested):
            writeBytes(overlay, into: &buffer)
            buffer.writeInteger(UInt8(congested ? 1 : 0))
        }
    }

    /// `frame` as a fresh buffer.
    public static func encode(_ frame: PeerFrame) -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(frame, into: &buffer)
        return buffer
    }

    static func writeVarint(_ value: UInt64, into buffer: inout ByteBuffer) {
        if value < 0x80 {
            buffer.writeInteger(UInt8(value))
            return
        }
        // One capacity/uniqueness check for all groups, not one per byte (a hot path: every
        // batched frame has a length and most fields a varint).
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 10) { bytes in
            var rest = value
            var count = 0
            while rest >= 0x80 {
                bytes[count] = UInt8(truncatingIfNeeded: rest) | 0x80
                rest >>= 7
                count += 1
            }
            bytes[count] = UInt8(rest)
            return count + 1
        }
    }

    static func writeBytes(_ bytes: ByteBuffer, into buffer: inout ByteBuffer) {
        writeVarint(UInt64(bytes.readableBytes), into: &buffer)
        buffer.writeImmutableBuffer(bytes)
    }
}

extension PeerFrame {
    /// The exact number of bytes `PeerFrameEncoder.encode` writes for this frame (what a relay
    /// counts against a peer's outbound bound before the frame is encoded).
    public var encodedSize: Int {
        func varint(_ value: UInt64) -> Int { value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7 }
        func bytes(_ buffer: ByteBuffer) -> Int { varint(UInt64(buffer.readableBytes)) + buffer.readableBytes }
        switch self {
        case let .request(id, cluster, left, payload):
            return 1 + varint(id) + bytes(cluster) + varint(left) + bytes(payload)
        case let .reply(id, outcome):
            switch outcome {
            case .success(let reply): return 2 + varint(id) + bytes(reply)
            case .fault(let fault): return 2 + varint(id) + bytes(fault)
            case .timedOut: return 2 + varint(id)
            case .failed(let reason): return 2 + varint(id) + bytes(reason)
            }
        case let .broadcast(cluster, message): return 1 + bytes(cluster) + bytes(message)
        case let .publish(topic, event): return 1 + bytes(topic) + bytes(event)
        case let .tunnelInit(tunnelID, cluster, left): return 1 + varint(tunnelID) + bytes(cluster) + varint(left)
        case let .tunnelConfirm(initiator, acceptor, limit): return 1 + varint(initiator) + varint(acceptor) + varint(limit)
        case let .tunnelRefuse(initiator, reason): return 1 + varint(initiator) + bytes(reason)
        case let .tunnelAllow(tunnelID, count): return 1 + varint(tunnelID) + varint(count)
        case let .tunnelTransfer(tunnelID, size, chunk): return 1 + varint(tunnelID) + varint(size) + bytes(chunk)
        case let .tunnelClose(tunnelID, reason): return 1 + varint(tunnelID) + bytes(reason)
        case .departure: return 2
        case let .gatewayBroadcast(overlay, cluster, message): return 1 + bytes(overlay) + bytes(cluster) + bytes(message)
        case let .gatewayPublish(overlay, topic, event): return 1 + bytes(overlay) + bytes(topic) + bytes(event)
        case let .gatewayCongestion(overlay, _): return 1 + bytes(overlay) + 1
        }
    }
}
