#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import PlexusMembership

/// LAN discovery (`--discover lan`, opt-in): multicast beacons sealed exactly like gossip
/// datagrams (`GossipSeal`, same keys, own replay window). A beacon says "node N is reachable at
/// HOST:PORT"; a relay hearing a beacon from a node that is not a reachable member opens a join
/// session to it (at most once per `rejoinInterval` per address). Only holders of the network key
/// can produce or read beacons.
public struct DiscoveryConfiguration: Sendable {
    /// Multicast group. Default 239.255.80.88 (organisation-local scope).
    public var group: String
    /// UDP port of the group. Default 55552.
    public var port: Int
    /// Local IPv4 address of the interface to beacon on (IP_MULTICAST_IF, and where the group is joined).
    public var interfaceAddress: String
    public var intervalMilliseconds: Int64
    public var rejoinIntervalMilliseconds: Int64

    public init(group: String = "239.255.80.88", port: Int = 55552, interfaceAddress: String,
                intervalMilliseconds: Int64 = 1_000, rejoinIntervalMilliseconds: Int64 = 5_000) {
        self.group = group
        self.port = port
        self.interfaceAddress = interfaceAddress
        self.intervalMilliseconds = intervalMilliseconds
        self.rejoinIntervalMilliseconds = rejoinIntervalMilliseconds
    }
}

/// Beacon payload (the plaintext inside the seal): "PXB1" | node ID (16) | port (2, BE) | host length (1) | host (UTF-8).
enum Beacon {
    static let magic = Array("PXB1".utf8)

    static func encode(node: NodeID, address: NodeAddress) -> [UInt8] {
        let host = Array(address.host.utf8.prefix(255))
        return magic + node.bytes + [UInt8(address.port >> 8), UInt8(address.port & 0xff), UInt8(host.count)] + host
    }

    static func decode(_ bytes: [UInt8]) -> (node: NodeID, address: NodeAddress)? {
        guard bytes.count >= 4 + 16 + 3, Array(bytes[0..<4]) == magic,
              let node = NodeID(bytes: bytes[4..<20]) else { return nil }
        let port = UInt16(bytes[20]) << 8 | UInt16(bytes[21])
        let length = Int(bytes[22])
        guard bytes.count == 23 + length, port != 0 else { return nil }
        return (node, NodeAddress(host: String(decoding: bytes[23...], as: UTF8.self), port: port))
    }
}

extension Overlay {
    /// Starts LAN discovery. Must only be used on an interface where multicast is intended
    /// (tests use network namespaces).
    public func startDiscovery(_ discovery: DiscoveryConfiguration) async throws {
        let driver = self.driverForExtensions
        let loop = driver.eventLoop
        guard let device = try System.enumerateDevices().first(where: { $0.address?.ipAddress == discovery.interfaceAddress }) else {
            throw SeedResolver.Failure(description: "no interface with address \(discovery.interfaceAddress) for discovery")
        }
        let interface = inet_addr(discovery.interfaceAddress)
        let channel = try await DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(BeaconReceiver(driver: driver.value))
                }
            }
            .bind(host: "0.0.0.0", port: discovery.port).get()
        let group = try SocketAddress(ipAddress: discovery.group, port: discovery.port)
        guard let multicast = channel as? MulticastChannel else {
            try? await channel.close()
            throw SeedResolver.Failure(description: "datagram channel does not support multicast")
        }
        try await multicast.joinGroup(group, device: device).get()
        guard let options = channel as? SocketOptionProvider else {
            try? await channel.close()
            throw SeedResolver.Failure(description: "datagram channel does not expose socket options")
        }
        // IP_MULTICAST_IF: beacons leave through the configured interface only.
        try await options.setIPMulticastIF(in_addr(s_addr: interface)).get()
        try await loop.submit { driver.value.startBeacons(channel: channel, group: group, configuration: discovery) }.get()
    }
}

extension OverlayDriver {
    func startBeacons(channel: Channel, group: SocketAddress, configuration: DiscoveryConfiguration) {
        discoveryChannel = channel
        discovery = configuration
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        beaconTask = eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(configuration.intervalMilliseconds)) { _ in
            bound.value.sendBeacon(group: group)
        }
    }

    func sendBeacon(group: SocketAddress) {
        guard !closed, let membership, !membership.hasLeft, let channel = discoveryChannel else { return }
        guard let destination = GossipDestination(group) else { return }
        let sealed = seal.seal(Beacon.encode(node: membership.localID, address: advertisedAddress), to: destination,
                               timestamp: wallClockMilliseconds())
        counters.beaconsSent += 1
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: group, data: ByteBuffer(bytes: sealed)), promise: nil)
    }

    func receiveBeacon(_ bytes: [UInt8]) {
        guard !closed, let membership, !membership.hasLeft, let discovery else { return }
        let payload: [UInt8]
        do {
            // Beacons are sealed for the multicast group they are sent to.
            let group = (try? SocketAddress(ipAddress: discovery.group, port: discovery.port)).flatMap { GossipDestination($0) }
            payload = try seal.open(bytes, at: group.map { [$0] } ?? [], now: wallClockMilliseconds(), window: &beaconReplay)
        } catch {
            counters.beaconsDropped += 1
            return
        }
        guard let beacon = Beacon.decode(payload) else {
            counters.beaconsDropped += 1
            return
        }
        guard beacon.node != membership.localID else { return }
        counters.beaconsReceived += 1
        if membership.member(beacon.node)?.status.isReachable == true { return }
        let now = monotonicMilliseconds()
        if let last = beaconJoins[beacon.address], now - last < discovery.rejoinIntervalMilliseconds { return }
        beaconJoins[beacon.address] = now
        logger.info("discovered relay", metadata: ["node": "\(hex(beacon.node))", "address": "\(beacon.address)"])
        counters.joinAttempts += 1
        openStream(to: beacon.address, join: true, payload: [])
    }
}

/// Inbound beacons → the driver.
final class BeaconReceiver: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let driver: OverlayDriver

    init(driver: OverlayDriver) { self.driver = driver }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        driver.receiveBeacon(Array(unwrapInboundIn(data).data.readableBytesView))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {}
}
