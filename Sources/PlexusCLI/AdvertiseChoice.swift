#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PlexusMembership

/// The address a relay advertises to other relays when `--advertise` is not given, and why.
///
/// Rule (pure; the system look-ups are passed in): an explicit `--advertise` wins; a dev relay,
/// or one whose `--peer-host` is a specific address, advertises that; a relay whose seeds are all
/// on loopback advertises 127.0.0.1; otherwise the local address of the route toward the first
/// seed on another host; with no seed, the first non-loopback interface address. A relay never
/// advertises loopback to a seed on another host: when none of these yields an address it must
/// not start (`nil`).
struct AdvertiseChoice: Equatable {
    let address: String
    let reason: String

    static func choose(explicit: String?, dev: Bool, peerHost: String?, seeds: [NodeAddress],
                       routeSource: (NodeAddress) -> String?, interfaceAddresses: () -> [String]) -> AdvertiseChoice? {
        if let explicit { return AdvertiseChoice(address: explicit, reason: "--advertise") }
        if dev { return AdvertiseChoice(address: "127.0.0.1", reason: "--dev joins nothing") }
        if let peerHost, !isWildcard(peerHost) {
            return AdvertiseChoice(address: peerHost, reason: "the only address --peer-host listens on")
        }
        let remote = seeds.filter { !isLoopback($0.host) }
        if !seeds.isEmpty, remote.isEmpty {
            return AdvertiseChoice(address: "127.0.0.1", reason: "every seed is on this host (loopback)")
        }
        if let seed = remote.first {
            guard let source = routeSource(seed), !isLoopback(source) else { return nil }
            return AdvertiseChoice(address: source, reason: "the local address of the route to seed \(seed)")
        }
        guard let first = interfaceAddresses().first(where: { !isLoopback($0) }) else { return nil }
        return AdvertiseChoice(address: first, reason: "the first non-loopback interface address (no seed given)")
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    static func isWildcard(_ host: String) -> Bool { host == "0.0.0.0" || host == "::" || host.isEmpty }
}

/// The system look-ups behind `AdvertiseChoice` (IPv4). Neither sends a packet: a UDP socket that
/// is `connect`ed only asks the kernel which local address routes to the seed.
enum AdvertiseLookup {
    static func routeSource(to seed: NodeAddress) -> String? {
        var destination = sockaddr_in()
        destination.sin_family = sa_family_t(AF_INET)
        destination.sin_port = seed.port.bigEndian
        guard inet_pton(AF_INET, seed.host, &destination.sin_addr) == 1 else { return nil }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let connected = withUnsafePointer(to: &destination) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { return nil }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard named else { return nil }
        return ipv4String(local.sin_addr)
    }

    static func interfaceAddresses() -> [String] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var addresses: [String] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            if let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) {
                let ipv4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                addresses.append(ipv4String(ipv4))
            }
            cursor = entry.pointee.ifa_next
        }
        return addresses
    }

    private static func ipv4String(_ address: in_addr) -> String {
        var address = address
        var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        guard inet_ntop(AF_INET, &address, &buffer, socklen_t(buffer.count)) != nil else { return "" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
