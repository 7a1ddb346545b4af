import NIOCore
import PlexusWire

extension RelayPacket {
    /// The exact number of bytes `ByteBuffer.writeRelayPacket(self)` appends. The core charges
    /// this to the receiving connection's outbound queue before the bytes exist.
    var encodedSize: Int {
        @inline(__always) func field(_ b: ByteBuffer) -> Int {
            ByteBuffer.varintSize(UInt64(b.readableBytes)) + b.readableBytes
        }
        @inline(__always) func text(_ s: String) -> Int {
            ByteBuffer.varintSize(UInt64(s.utf8.count)) + s.utf8.count
        }
        let v = ByteBuffer.varintSize
        switch self {
        case .accept(let version): return 1 + text(WireConstants.relayMagic) + field(version)
        case .deny(let reason): return 1 + text(WireConstants.relayMagic) + field(reason)
        case .close(let reason): return 1 + field(reason)
        case .broadcast(let message): return 1 + field(message)
        case .request(let id, let payload, let timeout): return 1 + v(id) + field(payload) + v(timeout)
        case .reply(let id, let result):
            switch result {
            case .timedOut: return 1 + v(id) + 1
            case .success(let b), .fault(let b): return 1 + v(id) + 2 + field(b)
            }
        case .publish(let topic, let event): return 1 + field(topic) + field(event)
        case .tunnelOffer(let build, let limit): return 1 + v(build) + v(limit)
        case .tunnelResult(let id, let limit): return 1 + v(id) + 1 + (limit.map(v) ?? 0)
        case .tunnelAllow(let id, let allowance): return 1 + v(id) + v(allowance)
        case .tunnelTransfer(let id, let size, let chunk): return 1 + v(id) + v(size) + field(chunk)
        case .tunnelClose(let id, let reason): return 1 + v(id) + field(reason)
        }
    }
}
