import Logging
import NIOConcurrencyHelpers
import NIOCore
import PlexusRelayCore
import PlexusCrypto
import PlexusMembership
import PlexusOverlay
import PlexusPeering
import PlexusRelay

/// One relay in an overlay: the client endpoint (`RelayServer`), the relay-to-relay sessions
/// (on the relay's core loop) and the membership (`Overlay`), wired together.
///
/// Guarantees:
/// * Local interest (clusters with members × `memberConcurrency` as capacity, subscribed topics)
///   is published in this relay's directory record. Everything between relays uses the one peer
///   port: the overlay's TCP listener hands messaging sessions (preface 'S') to the relay, and
///   the record's second address (the session address other relays dial) equals the first.
/// * Every directory change reaches the relay core; a relay declared dead or departed fails
///   whatever is pending on it at once.
/// * `shutdown()` leaves gracefully: drain (no new work from other relays, pending requests
///   finish within `drainTimeout`), announce leaving, leave the overlay, close clients.
public final class RelayNode: Sendable {
    public let relay: RelayServer
    public let overlay: Overlay
    public let logger: Logger
    /// Called with every new directory snapshot after the relay core got it (the gateway's interest).
    let directoryListeners: DirectoryListeners

    private init(relay: RelayServer, overlay: Overlay, logger: Logger, directoryListeners: DirectoryListeners) {
        self.relay = relay
        self.overlay = overlay
        self.logger = logger
        self.directoryListeners = directoryListeners
    }

    /// This relay's node ID.
    public var nodeID: NodeID { overlay.localID }

    /// Starts the relay (its relay-to-relay sessions bind nothing of their own), then the overlay,
    /// whose peer port also accepts the sessions.
    public static func start(relay relayConfiguration: RelayConfiguration, overlay overlayConfiguration: OverlayConfiguration,
                             memberConcurrency: Int = 16) async throws -> RelayNode {
        let logger = overlayConfiguration.logger
        let nodeID = overlayConfiguration.identity.nodeID
        let overlayBox = NIOLockedValueBox<Overlay?>(nil)
        let pendingInterest = NIOLockedValueBox<[OwnRecordChange]>([])

        var configuration = relayConfiguration
        configuration.overlay = configuration.overlay
            ?? OverlayRouterSettings(localNode: nodeID, localZone: PlexusMembership.Name(overlayConfiguration.zone))
        configuration.overlay!.memberConcurrency = memberConcurrency
        configuration.interestObserver = { changes in
            let record = changes.map { change -> OwnRecordChange in
                switch change {
                case .cluster(let name, let members):
                    members > 0
                        ? .registerCluster(PlexusMembership.Name(bytes: name),
                                           capacity: UInt32(clamping: members * memberConcurrency))
                        : .unregisterCluster(PlexusMembership.Name(bytes: name))
                case .topic(let name, let subscribed):
                    subscribed ? .subscribeTopic(PlexusMembership.Name(bytes: name))
                        : .unsubscribeTopic(PlexusMembership.Name(bytes: name))
                }
            }
            // Before the overlay exists (a client registered during start-up) changes wait here.
            let overlay = overlayBox.withLockedValue { overlay in
                if overlay == nil { pendingInterest.withLockedValue { $0 += record } }
                return overlay
            }
            overlay?.updateOwnRecord(record)
        }
        // Traffic from a relay is first-hand proof it is alive: hearsay about it must not override that.
        configuration.peerActivityObserver = { node in
            overlayBox.withLockedValue { $0 }?.peerIsReachable(node)
        }
        // No host or port: the sessions bind nothing of their own, the overlay's peer port accepts them.
        let peering = PeerLinksConfiguration(identity: overlayConfiguration.identity, keyring: overlayConfiguration.keyring,
                                             outboundLimitBytes: 4 * (configuration.overlay!.peerQueueLimitBytes),
                                             logger: logger)
        let relay = try await RelayServer.start(configuration: configuration, peering: peering, logger: logger)

        var overlayConfiguration = overlayConfiguration
        overlayConfiguration.sessionAcceptor = relay.sessionAcceptor
        let directoryListeners = DirectoryListeners()
        overlayConfiguration.observer = { event in
            switch event {
            case .directoryChanged(let snapshot):
                relay.updateDirectory(snapshot)
                directoryListeners.notify(snapshot)
            case .relayGone(let node): relay.relayDeparted(node)
            }
        }
        let overlay: Overlay
        do {
            overlay = try await Overlay.start(configuration: overlayConfiguration)
        } catch {
            await relay.shutdown()
            throw error
        }
        // The record keeps two addresses (membership, sessions) for its wire format; both are the peer port.
        overlay.updateOwnRecord([.setAddresses([overlay.advertisedAddress, overlay.advertisedAddress]),
                                 .setClaimSigning(claimSigning(relayConfiguration.clusterKeys))])
        let early = overlayBox.withLockedValue { box in
            box = overlay
            return pendingInterest.withLockedValue { pending in
                defer { pending = [] }
                return pending
            }
        }
        overlay.updateOwnRecord(early)
        return RelayNode(relay: relay, overlay: overlay, logger: logger, directoryListeners: directoryListeners)
    }

    /// Graceful leave (see the type's guarantees), then every socket closes.
    public func shutdown(drainTimeout: TimeAmount = .seconds(5), leaveGrace: TimeAmount = .seconds(1)) async {
        logger.info("relay draining")
        await relay.drain(timeout: drainTimeout)
        await overlay.leave(grace: leaveGrace)
        // The overlay first: its TCP listener runs on the relay's loop, which `relay.shutdown` stops.
        await overlay.shutdown()
        await relay.shutdown()
    }

    /// Stops at once without draining or leaving (tests of failure handling).
    public func stopAbruptly() async {
        await overlay.shutdown()
        await relay.shutdown()
    }
}
