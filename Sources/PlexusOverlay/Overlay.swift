import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PlexusCrypto
import PlexusMembership
import PlexusNoise
import PlexusSession

/// The overlay shell: runs one `Membership` state machine on real sockets.
///
/// * UDP on the peer port: probes and gossip as sealed datagrams (`GossipSeal`, replay window).
/// * TCP on the same port (`PeerPortListener`): after a one-byte preface, either a Noise XXpsk3
///   session (`NoiseSessionHandler`) carrying `.stream` packets (push-pull, joins, oversize
///   updates), one short-lived session per packet, or a relay-to-relay messaging session handed
///   to `OverlayConfiguration.sessionAcceptor`.
/// * One timer, set by `.scheduleTick`.
///
/// Everything runs on one event loop (a private single-threaded group), which owns the
/// membership state. The directory snapshot is published through a lock for other threads.
public final class Overlay: Sendable {
    /// The address other relays use to reach this one (advertise host + bound peer port).
    public let advertisedAddress: NodeAddress
    public let localID: NodeID

    private let group: MultiThreadedEventLoopGroup
    private let driver: NIOLoopBound<OverlayDriver>
    private let snapshot: NIOLockedValueBox<DirectorySnapshot>
    private let stopped = NIOLockedValueBox(false)

    private init(advertisedAddress: NodeAddress, localID: NodeID, group: MultiThreadedEventLoopGroup,
                 driver: NIOLoopBound<OverlayDriver>, snapshot: NIOLockedValueBox<DirectorySnapshot>) {
        self.advertisedAddress = advertisedAddress
        self.localID = localID
        self.group = group
        self.driver = driver
        self.snapshot = snapshot
    }

    /// Binds the peer port (UDP and TCP), starts the membership and contacts the seeds.
    public static func start(configuration: OverlayConfiguration) async throws -> Overlay {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let snapshot = NIOLockedValueBox(DirectorySnapshot.empty)
        let knownHosts = NIOLockedValueBox<Set<String>>([])
        let responder = NIOLockedValueBox<SessionConfiguration?>(nil)
        do {
            let driver = try await loop.submit {
                NIOLoopBound(OverlayDriver(configuration: configuration, eventLoop: loop, snapshot: snapshot,
                                           knownHosts: knownHosts), eventLoop: loop)
            }.get()
            let listener = PeerPortListener(configuration: configuration, driver: OverlayDriverHandle(driver),
                                            knownHosts: knownHosts, responder: responder)
            let port = try await listener.bind()
            let address = NodeAddress(host: configuration.advertiseHost, port: UInt16(port))
            let id = try await loop.submit {
                let id = driver.value.start(advertisedAddress: address)
                responder.withLockedValue { $0 = driver.value.sessionConfiguration(role: .responder) }
                return id
            }.get()
            configuration.logger.info("overlay listening", metadata: [
                "peer-port": "\(port)", "advertise": "\(address)", "node": "\(hex(id))",
                "seeds": "\(configuration.seeds.map(\.description))",
            ])
            return Overlay(advertisedAddress: address, localID: id, group: group, driver: driver, snapshot: snapshot)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    var driverForExtensions: NIOLoopBound<OverlayDriver> { driver }

    /// The current directory snapshot (immutable; replaced whenever the directory changes).
    public var directorySnapshot: DirectorySnapshot { snapshot.withLockedValue { $0 } }

    /// Members, records and counters, taken on the overlay's loop.
    public func status() async throws -> OverlayStatus {
        let driver = self.driver
        return try await driver.eventLoop.submit { driver.value.status() }.get()
    }

    /// Changes the own directory record (clusters served, topics wanted) and disseminates it.
    public func updateOwnRecord(_ changes: [OwnRecordChange]) {
        guard !changes.isEmpty else { return }
        let driver = self.driver
        driver.eventLoop.execute { driver.value.updateOwnRecord(changes) }
    }

    /// Tells the membership that this relay has a live, authenticated session with `node` right
    /// now (`Membership.peerIsReachable`): while such reports keep coming, a suspicion of `node`
    /// does not become a death, and a suspected or dead-declared `node` is prompted to refute.
    /// Call it when a session with `node` is established and when frames arrive from it (at most
    /// about once per probe interval per peer). Never call it for a session that is only open:
    /// only traffic that just arrived proves the peer is alive.
    public func peerIsReachable(_ node: PlexusMembership.NodeID) {
        let driver = self.driver
        driver.eventLoop.execute { driver.value.peerIsReachable(node) }
    }

    /// Announces departure and keeps gossiping for `grace` so the news spreads.
    public func leave(grace: TimeAmount = .seconds(1)) async {
        let driver = self.driver
        try? await driver.eventLoop.submit { driver.value.leave() }.get()
        try? await Task.sleep(nanoseconds: UInt64(max(0, grace.nanoseconds)))
    }

    /// Closes every socket and stops the loop. Idempotent.
    public func shutdown() async {
        let first = stopped.withLockedValue { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        let driver = self.driver
        try? await driver.eventLoop.flatSubmit { driver.value.close() }.get()
        try? await group.shutdownGracefully()
    }
}

func hex(_ id: NodeID) -> String { hexString(id.bytes) }

/// Monotonic milliseconds for the membership clock.
func monotonicMilliseconds() -> Milliseconds { Milliseconds(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

/// Wall-clock unix milliseconds for datagram timestamps.
func wallClockMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
