import Logging
import NIOCore
import NIOPosix
import PlexusSession

// NIO closes a datagram channel when `sendmsg` fails with anything but EMSGSIZE or EHOSTUNREACH.
// The kernel refuses single datagrams for ordinary reasons (EPERM from a firewall's output drop,
// ENETUNREACH while a route flaps, ENOBUFS under a burst), and before this the overlay then
// lost its UDP socket for good: no probe, ack or gossip in or out, so the relay was declared dead
// again and again although it was running (found with the fault bed's packet loss, issue 10).
// Now the socket is bound again on the same address and port.

extension OverlayDriver {
    /// Called when the UDP channel became inactive. Unless the overlay is closing, binds a new one
    /// on the same address and port (retried every second until it succeeds).
    func datagramChannelClosed(_ channel: Channel) {
        guard !closed, udp === channel else { return }
        udp = nil
        counters.datagramSocketReopened += 1
        if let suppressed = socketLogLimiter.admit("udp-reopen", now: monotonicMilliseconds()) {
            logger.warning("peer UDP socket closed after a refused send; binding it again", metadata: [
                "port": "\(advertisedAddress.port)", "suppressed-since-last": "\(suppressed)",
            ])
        }
        bindDatagramSocket(port: Int(advertisedAddress.port))
    }

    private func bindDatagramSocket(port: Int) {
        guard !closed else { return }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        Overlay.datagramBootstrap(loop: eventLoop, driver: bound)
            .bind(host: configuration.bindHost, port: port)
            .whenComplete { result in
                let driver = bound.value
                switch result {
                case .success(let channel):
                    if driver.closed { channel.close(promise: nil) } else { driver.udp = channel }
                case .failure:
                    guard !driver.closed else { return }
                    driver.eventLoop.scheduleTask(in: .seconds(1)) { bound.value.bindDatagramSocket(port: port) }
                }
            }
    }
}

extension Overlay {
    /// The UDP bootstrap of the peer port (also used to bind it again after NIO closed it).
    static func datagramBootstrap(loop: EventLoop, driver: NIOLoopBound<OverlayDriver>) -> DatagramBootstrap {
        DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // Each datagram's destination IP: sealed datagrams are bound to it.
            .channelOption(.receivePacketInfo, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramReceiver(driver: driver.value))
                }
            }
    }
}
