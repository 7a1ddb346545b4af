import DequeModule
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

    /// Events an iterator takes from the queue in one lock section (its batch); they are
    /// handed out one by one without touching the queue again.
    static let batchLimit = 64

    public struct AsyncIterator: AsyncIteratorProtocol {
        let queue: WorkQueue<ByteBuffer>
        /// Events taken from the queue and not yet returned, in arrival order.
        private var taken: Deque<ByteBuffer> = []

        init(queue: WorkQueue<ByteBuffer>) {
            self.queue = queue
        }

        public mutating func next() async throws -> ByteBuffer? {
            if let event = taken.popFirst() {
                // An unsubscribe (or close) discards what is still queued: also what this batch holds.
                if queue.isFinished {
                    taken.removeAll()
                    return try end()
                }
                return event
            }
            if await queue.take(upTo: Subscription.batchLimit, into: &taken), let event = taken.popFirst() { return event }
            return try end()
        }

        private func end() throws -> ByteBuffer? {
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
