import NIOConcurrencyHelpers
import PlexusWire

/// Packets without an answer (publish, broadcast, and a service's replies) on their way from
/// caller and worker tasks to the connection's event loop.
///
/// One `execute` per batch instead of one per packet: the packet that finds the outbox without
/// a scheduled drain schedules it; packets added before the drain runs ride along. Packets keep
/// their order: a caller's later `execute` (a request, a subscribe) is always queued after the
/// drain that takes its earlier packets, because a drain is scheduled before `admit` returns.
final class Outbox: Sendable {
    /// Packets that may wait for the event loop before senders have to wait for it.
    static let capacity = 1024

    enum Admission {
        /// Queued; a drain is already scheduled.
        case queued
        /// Queued; the caller must schedule the drain.
        case scheduleDrain
        /// Not queued: `capacity` packets are waiting.
        case full
    }

    private struct State {
        var packets: [ClientPacket] = []
        var drainScheduled = false
    }

    private let state = NIOLockedValueBox(State())

    func admit(_ packet: ClientPacket) -> Admission {
        state.withLockedValue { s in
            guard s.packets.count < Self.capacity else { return .full }
            s.packets.append(packet)
            if s.drainScheduled { return .queued }
            s.drainScheduled = true
            return .scheduleDrain
        }
    }

    /// Swaps the waiting packets into `batch` (which must be empty; its capacity is reused) and
    /// clears the drain flag, so the next admitted packet schedules a new drain.
    func drain(into batch: inout [ClientPacket]) {
        state.withLockedValue { s in
            swap(&s.packets, &batch)
            s.drainScheduled = false
        }
    }
}
