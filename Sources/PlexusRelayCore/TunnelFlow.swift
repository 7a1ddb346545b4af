import DequeModule
import NIOCore

/// Flow control of ONE tunnel direction inside the relay: chunks the sending client wrote, waiting
/// to be forwarded to the receiving client. A pure value, tested on its own.
///
/// * Client→relay is strict: the relay grants the sender `window` bytes when the tunnel is linked
///   and returns the length of every chunk it forwards; a chunk beyond the credit is an overrun
///   (a protocol violation). So at most `window` bytes are ever buffered here.
/// * Relay→client follows spec §9.4: a continuation chunk (size 0), and a first chunk that starts a
///   new message while the previously forwarded message is incomplete, are forwarded without
///   waiting for allowance; any other first chunk waits until allowance ≥ its length. The
///   allowance is decremented by every forwarded chunk and may go negative.
/// * Independently of allowance, a chunk moves only when the receiver's outbound queue has room
///   (the `hasRoom` predicate): a receiver that does not read withholds the sender's credit.
struct TunnelFlow {
    struct Chunk {
        var sizeOrContinuation: UInt64
        var data: ByteBuffer
        var compacted: Bool
    }

    /// Credit the relay has granted the sender and the sender has not used yet.
    private(set) var senderCredit: Int
    /// Allowance the receiving client granted and the relay has not used yet (may be negative).
    private(set) var allowance: Int64 = 0
    private(set) var buffer = Deque<Chunk>()
    private(set) var bufferedBytes = 0
    /// Bytes of the last forwarded message still to come (0 = it is complete).
    private(set) var forwardedRemaining: UInt64 = 0
    /// Bytes of the last received message still to come (0 = it is complete).
    private var receivedRemaining: UInt64 = 0

    init(window: Int) {
        senderCredit = window
    }

    enum ReceiveOutcome: Equatable {
        case accepted
        /// The chunk exceeds the credit the relay granted: the sender broke flow control.
        case overrun
        /// A continuation with no message in progress: discarded, its credit is given back at once.
        case discardedOrphanContinuation
    }

    package mutating func receive(sizeOrContinuation: UInt64, chunk: ByteBuffer) -> ReceiveOutcome {
        let length = chunk.readableBytes
        guard length <= senderCredit else { return .overrun }
        if sizeOrContinuation == 0 {
            guard receivedRemaining > 0 else { return .discardedOrphanContinuation }
            receivedRemaining = receivedRemaining > UInt64(length) ? receivedRemaining - UInt64(length) : 0
        } else {
            receivedRemaining = sizeOrContinuation > UInt64(length) ? sizeOrContinuation - UInt64(length) : 0
        }
        senderCredit -= length
        bufferedBytes += length
        buffer.append(Chunk(sizeOrContinuation: sizeOrContinuation, data: chunk, compacted: false))
        return .accepted
    }

    /// The receiving client granted `amount` more bytes.
    mutating func grant(_ amount: UInt64) {
        let add = Int64(clamping: amount)
        allowance = allowance.addingReportingOverflow(add).overflow ? .max : allowance + add
    }

    /// Whether the head chunk may be forwarded now under the §9.4 rules (ignoring queue room).
    var headIsReleasable: Bool {
        guard let head = buffer.first else { return false }
        if head.sizeOrContinuation == 0 { return true }       // forced continuation
        if forwardedRemaining > 0 { return true }             // forced restart
        return allowance >= Int64(head.data.readableBytes)
    }

    /// Removes and returns the head chunk if the rules allow it and `hasRoom(length)` holds.
    /// The chunk's length is returned to the sender's credit: the caller sends it as TUN_ALLOW.
    mutating func popReleasable(hasRoom: (Int) -> Bool) -> Chunk? {
        guard headIsReleasable, let head = buffer.first, hasRoom(head.data.readableBytes) else { return nil }
        return popHead()
    }

    /// Removes the head chunk regardless of allowance (used to drain before a close notification).
    mutating func popAny() -> Chunk? {
        buffer.isEmpty ? nil : popHead()
    }

    private mutating func popHead() -> Chunk {
        let chunk = buffer.removeFirst()
        let length = chunk.data.readableBytes
        bufferedBytes -= length
        senderCredit += length
        allowance -= Int64(length)
        let l = UInt64(length)
        if chunk.sizeOrContinuation != 0 {
            forwardedRemaining = chunk.sizeOrContinuation > l ? chunk.sizeOrContinuation - l : 0
        } else {
            forwardedRemaining = forwardedRemaining > l ? forwardedRemaining - l : 0
        }
        return chunk
    }

    /// Copies buffered chunks that are still slices of a read buffer into buffers of their own,
    /// so a waiting chunk never pins a (possibly much larger) receive buffer.
    mutating func compactBuffered() {
        guard let last = buffer.last, !last.compacted else { return }
        var index = buffer.count - 1
        while index >= 0, !buffer[index].compacted {
            var copy = ByteBufferAllocator().buffer(capacity: buffer[index].data.readableBytes)
            copy.writeImmutableBuffer(buffer[index].data)
            buffer[index].data = copy
            buffer[index].compacted = true
            index -= 1
        }
    }
}
