import NIOCore
import PlexusVocabulary

/// Writes `GatewayFrame`s in the layout of `Docs/federation.md` §4.
///
/// Guarantees: the output decodes back to an equal frame with default limits as long as the
/// fields respect those limits (the sender is trusted to build frames within its own limits).
public enum GatewayFrameEncoder {
    /// Appends `frame` to `buffer`.
    public static func encode(_ frame: GatewayFrame, into buffer: inout ByteBuffer) {
        buffer.writeInteger(frame.type.rawValue)
        switch frame {
        case let .hello(version, overlay, gateway):
            buffer.writeInteger(version)
            writeText(overlay.value, into: &buffer)
            buffer.writeBytes(gateway.bytes)
        case .interest(let interest):
            writeVarint(interest.version, into: &buffer)
            buffer.writeInteger(interest.kind.rawValue)
            writeVarint(UInt64(interest.changes.count), into: &buffer)
            for change in interest.changes {
                buffer.writeInteger(change.opcode)
                writeText(change.name, into: &buffer)
            }
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
        case let .event(topic, publisher, sequence, event):
            writeBytes(topic, into: &buffer)
            buffer.writeBytes(publisher.bytes)
            writeVarint(sequence, into: &buffer)
            writeBytes(event, into: &buffer)
        case .ping(let nonce), .pong(let nonce):
            writeVarint(nonce, into: &buffer)
        case let .tunnelInit(tunnelID, cluster, millisecondsLeft):
            writeVarint(tunnelID, into: &buffer)
            writeBytes(cluster, into: &buffer)
            writeVarint(millisecondsLeft, into: &buffer)
        case let .tunnelConfirm(initiator, acceptor, chunkLimit):
            writeVarint(initiator, into: &buffer)
            writeVarint(acceptor, into: &buffer)
            writeVarint(chunkLimit, into: &buffer)
        case let .tunnelRefuse(tunnelID, reason), let .tunnelClose(tunnelID, reason):
            writeVarint(tunnelID, into: &buffer)
            writeBytes(reason, into: &buffer)
        case let .tunnelAllow(tunnelID, bytes):
            writeVarint(tunnelID, into: &buffer)
            writeVarint(bytes, into: &buffer)
        case let .tunnelTransfer(tunnelID, sizeOrContinuation, chunk):
            writeVarint(tunnelID, into: &buffer)
            writeVarint(sizeOrContinuation, into: &buffer)
            writeBytes(chunk, into: &buffer)
        }
    }

    /// `frame` in a new buffer.
    public static func encode(_ frame: GatewayFrame) -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(frame, into: &buffer)
        return buffer
    }

    static func writeVarint(_ value: UInt64, into buffer: inout ByteBuffer) {
        var remaining = value
        while remaining >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        buffer.writeInteger(UInt8(remaining))
    }

    static func writeBytes(_ bytes: ByteBuffer, into buffer: inout ByteBuffer) {
        writeVarint(UInt64(bytes.readableBytes), into: &buffer)
        buffer.writeImmutableBuffer(bytes)
    }

    static func writeText(_ text: String, into buffer: inout ByteBuffer) {
        writeVarint(UInt64(text.utf8.count), into: &buffer)
        buffer.writeString(text)
    }
}
