import NIOCore

/// A packet a client (binding) sends to its relay: the C→R layouts of spec §4.1.
///
/// Names (cluster, topic) and payloads are `ByteBuffer` views into the received bytes: they are
/// compared byte-for-byte and never re-encoded. Numeric fields keep their full 64-bit wire range;
/// validating ranges (for example a zero timeout) is the receiver's job, not the codec's.
public enum ClientPacket: Sendable, Hashable {
    /// INIT: the handshake. The magic is checked by the decoder; the version is returned so the
    /// relay can DENY versions it does not speak. An empty cluster means a plain client.
    case initiate(version: ByteBuffer, cluster: ByteBuffer)
    /// CLOSE: graceful tear-down request.
    case close
    /// BROADCAST to every member of a cluster.
    case broadcast(cluster: ByteBuffer, message: ByteBuffer)
    /// REQUEST with a client-allocated id and a timeout in milliseconds.
    case request(id: UInt64, cluster: ByteBuffer, payload: ByteBuffer, timeoutMilliseconds: UInt64)
    /// REPLY to a delivered request, naming the relay-allocated id.
    case reply(id: UInt64, outcome: ReplyOutcome)
    /// SUBSCRIBE to a topic.
    case subscribe(topic: ByteBuffer)
    /// UNSUBSCRIBE from a topic.
    case unsubscribe(topic: ByteBuffer)
    /// PUBLISH an event to a topic.
    case publish(topic: ByteBuffer, event: ByteBuffer)
    /// TUN_INIT: build a tunnel to one member of a cluster; the id is client-allocated.
    case tunnelInit(id: UInt64, cluster: ByteBuffer, timeoutMilliseconds: UInt64)
    /// TUN_CONFIRM: accept the relay's offer `buildID`, naming the client's new tunnel id.
    case tunnelConfirm(buildID: UInt64, tunnelID: UInt64)
    /// TUN_ALLOW: grant the relay `allowance` more payload bytes on the tunnel.
    case tunnelAllow(id: UInt64, allowance: UInt64)
    /// TUN_TRANSFER: one chunk; `sizeOrContinuation` is the message size on the first chunk, 0 after.
    case tunnelTransfer(id: UInt64, sizeOrContinuation: UInt64, chunk: ByteBuffer)
    /// TUN_CLOSE: close the tunnel.
    case tunnelClose(id: UInt64)
}

/// What a service answers to a delivered request: a reply or a fault text.
public enum ReplyOutcome: Sendable, Hashable {
    case success(ByteBuffer)
    case fault(ByteBuffer)
}
