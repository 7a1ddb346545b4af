import NIOCore

/// The events of one subscription, in arrival order, as a throwing `AsyncSequence`.
///
/// Guarantees: events wait in a buffer capped by `SubscriptionLimits.eventMemoryBytes` (an
/// event that would exceed it is dropped, as the relay protocol prescribes). The sequence ends normally after
/// `unsubscribe()` (or the connection's `close()`); it throws `PlexusError.connectionLost`
/// when the connection is lost for good (reconnect off or given up). Across a reconnect it
/// simply goes on (events published while the relay was away are not delivered). Iterate
/// from one task at a time; a cancelled iteration returns nil. Holding a subscription keeps
/// its `Connection` open.
public struct Subscription: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    /// The topic this subscription is for.
    public let topic: String
    let queue: WorkQueue<ByteBuffer>
    let connection: Connection

    public struct AsyncIterator: AsyncIteratorProtocol {
        let queue: WorkQueue<ByteBuffer>

        public mutating func next() async throws -> ByteBuffer? {
            if let event = await queue.take() { return event }
            if let failure = queue.failure { throw failure }
            return nil
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(queue: queue)
    }

    /// Ends this subscription: UNSUBSCRIBE goes to the relay, events still queued are
    /// discarded and the iteration returns nil (ends normally). Calling it again, or after the
    /// topic was subscribed anew on the connection, does nothing.
    public func unsubscribe() async {
        try? connection.supervisor.unsubscribe(topic: topic, queue: queue)
    }
}
