#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PlexusMembership

/// Turns `--join HOST:PORT` into addresses: every IPv4/IPv6 address `getaddrinfo` returns for
/// HOST (so a Kubernetes headless service name joins all its pods).
public enum SeedResolver {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Splits "host:port" or "[v6]:port".
    public static func split(_ text: String) throws -> (host: String, port: UInt16) {
        guard let address = parseAddress(text), !address.host.isEmpty else {
            throw Failure(description: "'\(text)' is not HOST:PORT")
        }
        return (address.host, address.port)
    }

    /// Resolves `host` with getaddrinfo (blocking); returns unique numeric addresses in resolver order.
    public static func resolve(_ text: String) throws -> [NodeAddress] {
        let (host, port) = try split(text)
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        #else
        hints.ai_socktype = SOCK_DGRAM
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &result)
        guard rc == 0, let first = result else {
            throw Failure(description: "cannot resolve '\(host)': \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(first) }
        var addresses: [NodeAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if let sockaddr = entry.pointee.ai_addr,
               getnameinfo(sockaddr, entry.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                let address = NodeAddress(host: String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), port: port)
                if !addresses.contains(address) { addresses.append(address) }
            }
            cursor = entry.pointee.ai_next
        }
        return addresses
    }
}
