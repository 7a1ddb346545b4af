import NIOCore

/// A packet a relay sends to a client: the R→C layouts of spec §4.2.
///
/// Payloads are `ByteBuffer` views; reasons and fault texts are raw bytes forwarded unchanged.
public enum RelayPacket: Sendable, Hashable {
    /// INIT: the connection is accepted; `version` is the version the relay will speak.
    case accept(version: ByteBuffer)
    /// DENY: the connection is refused, with a human-readable reason.
    case deny(reason: ByteBuffer)
    /// CLOSE: tear-down; an empty reason is graceful.
    case close(reason: ByteBuffer)
    /// BROADCAST delivery to a service (no cluster field).
    case broadcast(message: ByteBuffer)
    /// REQUEST delivery to a service: relay-allocated id, payload, the original timeout in ms.
    case request(id: UInt64, payload: ByteBuffer, timeoutMilliseconds: UInt64)
    /// REPLY: the outcome of the client's own request `id`.
    case reply(id: UInt64, result: RequestResult)
    /// PUBLISH: event delivery on a subscribed topic.
    case publish(topic: ByteBuffer, event: ByteBuffer)
    /// TUN_INIT: an inbound tunnel offer to a service, with the chunk limit L (≥ 1).
    case tunnelOffer(buildID: UInt64, chunkLimit: UInt64)
    /// TUN_CONFIRM: the result of the client's TUN_INIT `id`: a chunk limit, or `nil` if timed out.
    case tunnelResult(id: UInt64, chunkLimit: UInt64?)
    /// TUN_ALLOW: the relay grants `allowance` more payload bytes on the client's tunnel `id`.
    case tunnelAllow(id: UInt64, allowance: UInt64)
    /// TUN_TRANSFER: one chunk on the client's tunnel `id`.
    case tunnelTransfer(id: UInt64, sizeOrContinuation: UInt64, chunk: ByteBuffer)
    /// TUN_CLOSE: the tunnel is closed; an empty reason is graceful.
    case tunnelClose(id: UInt64, reason: ByteBuffer)
}

/// The outcome of a request as the relay reports it to the requester.
public enum RequestResult: Sendable, Hashable {
    case timedOut
    case success(ByteBuffer)
    case fault(ByteBuffer)
}
