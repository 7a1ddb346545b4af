import NIOCore

/// Hands the relay-to-relay messaging sessions accepted on the shared peer port to their owner
/// (`PeerLinks`). The peer port's TCP listener and every connection it accepts run on
/// `eventLoop` (the owner's loop), so after the 'S' preface `pipeline` builds the session's
/// handlers there and the session never changes threads.
public struct PeerPortSessionAcceptor: Sendable {
    /// The loop that accepts peer-port connections and runs them.
    public let eventLoop: EventLoop
    /// Builds the pipeline of one accepted messaging session; called on `eventLoop`.
    public let pipeline: @Sendable (Channel) throws -> PeerPortPipeline

    public init(eventLoop: EventLoop, pipeline: @escaping @Sendable (Channel) throws -> PeerPortPipeline) {
        self.eventLoop = eventLoop
        self.pipeline = pipeline
    }
}
