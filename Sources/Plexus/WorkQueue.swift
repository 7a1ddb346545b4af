import DequeModule
import NIOConcurrencyHelpers
import Synchronization

/// A FIFO hand-off queue with a byte cap, between the connection's event loop (producer) and a
/// fixed set of consumer tasks (handler workers or an `AsyncSequence` iterator).
///
/// Spec §11 semantics: an item of n bytes is accepted only if queued bytes + n ≤ limit (plain
/// `≤`), otherwise dropped; the bytes leave the count when a consumer takes the item, before its
/// handler runs. The number of consumers is the concurrency limit. Nothing is re-ordered.
final class WorkQueue<Item: Sendable>: Sendable, Wakeable {
    private struct Waiter {
        var id: UInt64
        var continuation: UnsafeContinuation<Item?, Never>
    }

    private struct State {
        var items: Deque<(item: Item, bytes: Int)> = []
        var queuedBytes = 0
        var waiters: Deque<Waiter> = []
        var nextWaiterID: UInt64 = 0
        var finished = false
        /// Why the queue was finished, if it ended in an error (a subscription's lost connection).
        var failure: PlexusError?
        var wakeDue = false
    }

    private enum Immediate {
        case item(Item)
        case end
        case wait(UInt64)
    }

    private enum OfferOutcome {
        case dropped
        case queued
        case handOver(UnsafeContinuation<Item?, Never>)
    }

    let limitBytes: Int
    private let state = NIOLockedValueBox(State())
    /// `State.finished`, readable without the lock (a consumer checks it once per event it holds).
    private let finishedFlag = Atomic<Bool>(false)

    init(limitBytes: Int) {
        self.limitBytes = limitBytes
    }

    /// Offers an item; returns false when it was dropped (over the byte cap, or finished).
    @discardableResult
    func offer(_ item: Item, bytes: Int) -> Bool {
        let outcome: OfferOutcome = state.withLockedValue { s in
            guard !s.finished, s.queuedBytes + bytes <= limitBytes else { return .dropped }
            if let waiter = s.waiters.popFirst() { return .handOver(waiter.continuation) }
            s.items.append((item, bytes))
            s.queuedBytes += bytes
            return .queued
        }
        switch outcome {
        case .dropped: return false
        case .queued: return true
        case .handOver(let continuation):
            continuation.resume(returning: item)
            return true
        }
    }

    /// Like `offer`, but never resumes a waiting consumer itself: returns `.wakeDue` when the
    /// caller must call `wake()` later (once per batch, e.g. at the end of a read burst), so a
    /// burst of items costs one consumer wake-up instead of one per item.
    func enqueue(_ item: Item, bytes: Int) -> EnqueueResult {
        state.withLockedValue { s in
            guard !s.finished, s.queuedBytes + bytes <= limitBytes else { return .dropped }
            s.items.append((item, bytes))
            s.queuedBytes += bytes
            guard !s.waiters.isEmpty, !s.wakeDue else { return .queued }
            s.wakeDue = true
            return .wakeDue
        }
    }

    enum EnqueueResult { case dropped, queued, wakeDue }

    /// Hands queued items to waiting consumers.
    func wake() {
        var handOvers: [(UnsafeContinuation<Item?, Never>, Item)] = []
        state.withLockedValue { s in
            s.wakeDue = false
            while !s.waiters.isEmpty, let first = s.items.popFirst() {
                s.queuedBytes -= first.bytes
                handOvers.append((s.waiters.removeFirst().continuation, first.item))
            }
        }
        for (continuation, item) in handOvers { continuation.resume(returning: item) }
    }

    /// Takes the next item, waiting if none is queued; `nil` once finished (or the calling task
    /// is cancelled while waiting).
    func take() async -> Item? {
        let immediate: Immediate = state.withLockedValue { s in
            if let first = s.items.popFirst() {
                s.queuedBytes -= first.bytes
                return .item(first.item)
            }
            if s.finished { return .end }
            s.nextWaiterID &+= 1
            return .wait(s.nextWaiterID)
        }
        switch immediate {
        case .item(let item): return item
        case .end: return nil
        case .wait(let id):
            return await withTaskCancellationHandler {
                await withUnsafeContinuation { (continuation: UnsafeContinuation<Item?, Never>) in
                    let resumeNow: Item?? = state.withLockedValue { s in
                        // Re-check: an item may have arrived between the two lock sections.
                        if let first = s.items.popFirst() {
                            s.queuedBytes -= first.bytes
                            return .some(first.item)
                        }
                        if s.finished || Task.isCancelled { return .some(nil) }
                        s.waiters.append(Waiter(id: id, continuation: continuation))
                        return .none
                    }
                    if let resumeNow { continuation.resume(returning: resumeNow) }
                }
            } onCancel: {
                let waiter: Waiter? = state.withLockedValue { s in
                    guard let index = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return s.waiters.remove(at: index)
                }
                waiter?.continuation.resume(returning: nil)
            }
        }
    }

    /// Takes up to `limit` queued items in one lock section, appending them to `batch`; waits
    /// (as `take()` does) when none is queued. Returns false, with nothing appended, once the
    /// queue is finished or the calling task is cancelled while waiting. The taken items leave
    /// the byte count at once, so a consumer holding a batch holds at most `limit` items beyond
    /// the queue's cap (`Subscription` takes batches of `Subscription.batchLimit`).
    func take(upTo limit: Int, into batch: inout Deque<Item>) async -> Bool {
        let taken: Int = state.withLockedValue { s in
            var count = 0
            while count < limit, let first = s.items.popFirst() {
                s.queuedBytes -= first.bytes
                batch.append(first.item)
                count += 1
            }
            return count
        }
        if taken > 0 { return true }
        guard let item = await take() else { return false }
        batch.append(item)
        return true
    }

    /// Ends the queue: queued items are discarded, waiting and future `take()` calls return nil.
    /// `failure` (kept only from the first finish) tells consumers that it ended in an error.
    func finish(failure: PlexusError? = nil) {
        let waiters: Deque<Waiter> = state.withLockedValue { s in
            if !s.finished { s.failure = failure }
            s.finished = true
            finishedFlag.store(true, ordering: .releasing)
            s.items.removeAll()
            s.queuedBytes = 0
            let waiters = s.waiters
            s.waiters.removeAll()
            return waiters
        }
        for waiter in waiters { waiter.continuation.resume(returning: nil) }
    }

    /// Discards the queued items but stays open (a service's requests of a lost connection).
    func discardQueued() {
        state.withLockedValue { s in
            s.items.removeAll()
            s.queuedBytes = 0
        }
    }

    var queuedBytes: Int { state.withLockedValue { $0.queuedBytes } }

    /// Consumers suspended in `take()` right now.
    var waitingConsumers: Int { state.withLockedValue { $0.waiters.count } }

    /// The error the queue was finished with, nil while open or after a normal finish.
    var failure: PlexusError? { state.withLockedValue { $0.failure } }

    var isFinished: Bool { finishedFlag.load(ordering: .acquiring) }
}

/// Something with deferred consumer wake-ups (`WorkQueue` of any item type).
protocol Wakeable: AnyObject {
    func wake()
}
