import NIOCore

/// The events of one subscription, in arrival order, as an `AsyncSequence`.
///
/// Events wait in a buffer capped by `SubscriptionLimits.eventMemoryBytes` (an event that would
/// exceed it is dropped, spec §11); the consumer drains it. The sequence ends when the topic is
/// unsubscribed or the connection closes. Iterate from one task at a time.
public struct Subscription: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    /// The topic this subscription is for.
    public let topic: String
    let queue: WorkQueue<ByteBuffer>

    public struct AsyncIterator: AsyncIteratorProtocol {
        let queue: WorkQueue<ByteBuffer>
        public mutating func next() async -> ByteBuffer? {
            await queue.take()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(queue: queue)
    }
}
