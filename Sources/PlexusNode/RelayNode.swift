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
///   is published in this relay's directory record; the record's second address is the
///   relay-to-relay session listener, which other relays dial.
/// * Every directory change reaches the relay core; a relay declared dead or departed fails
///   whatever is pending on it at once.
/// * `shutdown()` leaves gracefully: drain (no new work from other relays, pending requests
///   finish within `drainTimeout`), announce leaving, leave the overlay, close clients.
public final class RelayNode: Sendable {
    public let relay: RelayServer
    public let overlay: Overlay
    public let logger: Logger

    private init(relay: RelayServer, overlay: Overlay, logger: Logger) {
        self.relay = relay
        self.overlay = overlay
        self.logger = logger
    }

    /// This relay's node ID.
    public var nodeID: NodeID { overlay.localID }

    /// Starts the relay, its session listener on `overlayConfiguration.bindHost`, then the overlay.
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
        let peering = PeerLinksConfiguration(identity: overlayConfiguration.identity, keyring: overlayConfiguration.keyring,
                                             host: overlayConfiguration.bindHost, port: 0,
                                             outboundLimitBytes: 4 * (configuration.overlay!.peerQueueLimitBytes),
                                             logger: logger)
        let relay = try await RelayServer.start(configuration: configuration, peering: peering, logger: logger)

        var overlayConfiguration = overlayConfiguration
        overlayConfiguration.observer = { event in
            switch event {
            case .directoryChanged(let snapshot): relay.updateDirectory(snapshot)
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
        let sessions = NodeAddress(host: overlayConfiguration.advertiseHost, port: UInt16(relay.peerLinksPort!))
        overlay.updateOwnRecord([.setAddresses([overlay.advertisedAddress, sessions]),
                                 .setClaimSigning(claimSigning(relayConfiguration.clusterKeys))])
        let early = overlayBox.withLockedValue { box in
            box = overlay
            return pendingInterest.withLockedValue { pending in
                defer { pending = [] }
                return pending
            }
        }
        overlay.updateOwnRecord(early)
        return RelayNode(relay: relay, overlay: overlay, logger: logger)
    }

    /// Graceful leave (see the type's guarantees), then every socket closes.
    public func shutdown(drainTimeout: TimeAmount = .seconds(5), leaveGrace: TimeAmount = .seconds(1)) async {
        logger.info("relay draining")
        await relay.drain(timeout: drainTimeout)
        await overlay.leave(grace: leaveGrace)
        await relay.shutdown()
        await overlay.shutdown()
    }

    /// Stops at once without draining or leaving (tests of failure handling).
    public func stopAbruptly() async {
        await relay.shutdown()
        await overlay.shutdown()
    }
}
