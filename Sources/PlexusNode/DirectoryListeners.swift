import NIOConcurrencyHelpers
import PlexusMembership

/// Callbacks run with every new directory snapshot of a `RelayNode` (on the overlay's thread,
/// after the relay core was given it). The gateway uses one to announce this overlay's interest
/// as soon as it changes (`GatewayService`).
final class DirectoryListeners: Sendable {
    private let listeners = NIOLockedValueBox<[UInt64: @Sendable (DirectorySnapshot) -> Void]>([:])
    private let nextID = NIOLockedValueBox<UInt64>(0)

    /// Adds `listener`; returns the id that removes it.
    func add(_ listener: @escaping @Sendable (DirectorySnapshot) -> Void) -> UInt64 {
        let id = nextID.withLockedValue { value in
            defer { value += 1 }
            return value
        }
        listeners.withLockedValue { $0[id] = listener }
        return id
    }

    func remove(_ id: UInt64) {
        listeners.withLockedValue { $0[id] = nil }
    }

    func notify(_ snapshot: DirectorySnapshot) {
        for listener in listeners.withLockedValue({ Array($0.values) }) { listener(snapshot) }
    }
}
