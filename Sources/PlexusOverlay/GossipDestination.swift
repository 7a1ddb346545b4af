import NIOCore

/// The address a sealed datagram is sent to, as bound into its associated data (see
/// `GossipSeal` and Docs/overlay-transport.md):
///
///     family (1 byte: 0x04 or 0x06) | IP address (4 or 16 bytes) | UDP port (2 bytes, BE)
///
/// Guarantees: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the same destination as the
/// IPv4 address, so a dual-stack socket and an IPv4 sender agree.
public struct GossipDestination: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// `address` is 4 (IPv4) or 16 (IPv6) bytes; nil for any other length.
    public init?(address: [UInt8], port: UInt16) {
        var address = address
        if address.count == 16, address.prefix(10).allSatisfy({ $0 == 0 }), address[10] == 0xFF, address[11] == 0xFF {
            address = Array(address.suffix(4))
        }
        guard address.count == 4 || address.count == 16 else { return nil }
        bytes = [address.count == 4 ? 0x04 : 0x06] + address + [UInt8(port >> 8), UInt8(port & 0xFF)]
    }

    /// The destination of an IP socket address (nil for Unix domain addresses).
    public init?(_ socketAddress: SocketAddress) {
        guard let port = socketAddress.port else { return nil }
        self.init(socketAddress, port: UInt16(truncatingIfNeeded: port))
    }

    /// The IP address of `socketAddress` with `port` (packet info carries no useful port).
    public init?(_ socketAddress: SocketAddress, port: UInt16) {
        switch socketAddress {
        case .v4(let address):
            let raw = address.address.sin_addr.s_addr // network byte order in memory
            self.init(address: withUnsafeBytes(of: raw) { Array($0) }, port: port)
        case .v6(let address):
            self.init(address: withUnsafeBytes(of: address.address.sin6_addr) { Array($0) }, port: port)
        case .unixDomainSocket:
            return nil
        }
    }

    public var description: String { bytes.map { String($0, radix: 16) }.joined(separator: ".") }
}
