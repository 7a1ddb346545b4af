import NIOConcurrencyHelpers

/// Links one awaiting call to the event-loop operation it started, so that cancelling the
/// caller's task can find and end that operation.
///
/// Order argument: the call hops to the loop with `execute` before it can be cancelled
/// mid-flight, and the cancellation handler hops with `execute` too, so on the loop the
/// cancellation runs after the operation was registered; a cancellation that came before
/// the call hopped is seen through `isCancelled` when the operation starts.
final class CancellationToken: Sendable {
    private struct State {
        var cancelled = false
        var operationID: UInt64?
    }

    private let state = NIOLockedValueBox(State())

    /// Marks the call cancelled (from the cancellation handler, any thread).
    func cancel() { state.withLockedValue { $0.cancelled = true } }

    var isCancelled: Bool { state.withLockedValue { $0.cancelled } }

    /// The id of the loop-side operation (request id, tunnel id, receive number).
    var operationID: UInt64? {
        get { state.withLockedValue { $0.operationID } }
        set { state.withLockedValue { $0.operationID = newValue } }
    }
}
