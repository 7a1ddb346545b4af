#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PlexusProcesses

/// Capturing and replaying datagrams on a fault bed's bridge, from inside the bridge's namespace
/// (a thread of the test process enters it with `setns`; the rest of the process stays where it
/// is). The bridge gets the address `FaultBed.subnet` + 1 for sending; it exists only there.
extension FaultBed {
    /// The address of the bridge inside its namespace (source of replayed datagrams).
    public static var bridgeAddress: String { "\(subnet)1" }

    /// Waits (at most `timeout` seconds) for a UDP datagram from relay `from` to relay `to`'s
    /// peer port crossing the bridge, and returns its payload (the sealed datagram).
    public func captureDatagram(from: Int, to: Int, timeout: Double) -> [UInt8]? {
        let source = inet_addr(relays[from].address), destination = inet_addr(relays[to].address)
        let port = UInt16(FaultBedRelay.peerPort)
        return inNamespace(bridgeNamespace) { () -> [UInt8]? in
            // ETH_P_ALL (0x0003): every frame of every interface of the namespace, without link
            // headers. (ETH_P_IP would see nothing: frames on bridge ports go to the bridge
            // before protocol taps; only ETH_P_ALL taps see them.) Non-IPv4 frames are skipped below.
            let ethernetProtocolAll: UInt16 = 0x0003
            let fd = socket(AF_PACKET, Int32(SOCK_DGRAM.rawValue), Int32(ethernetProtocolAll.bigEndian))
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var wait = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let end = Date().addingTimeInterval(timeout)
            while Date() < end {
                let count = recv(fd, &buffer, buffer.count, 0)
                guard count > 28, buffer[0] >> 4 == 4, buffer[9] == 17 else { continue } // IPv4, UDP
                let headerLength = Int(buffer[0] & 0x0F) * 4
                guard count >= headerLength + 8 else { continue }
                let packetSource = buffer[12..<16].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
                let packetDestination = buffer[16..<20].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
                let destinationPort = UInt16(buffer[headerLength + 2]) << 8 | UInt16(buffer[headerLength + 3])
                guard packetSource == source, packetDestination == destination, destinationPort == port else { continue }
                return Array(buffer[(headerLength + 8)..<count])
            }
            return nil
        } ?? nil
    }

    /// Sends `payload` as one UDP datagram from the bridge to relay `index`'s peer port.
    @discardableResult
    public func replayDatagram(_ payload: [UInt8], to index: Int) -> Bool {
        guard ip("-n \(bridgeNamespace) addr replace \(Self.bridgeAddress)/24 dev br0") else { return false }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(relays[index].address)
        address.sin_port = UInt16(FaultBedRelay.peerPort).bigEndian
        let target = address
        return inNamespace(bridgeNamespace) { () -> Bool in
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var destination = target
            let sent = withUnsafePointer(to: &destination) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, payload, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            return sent == payload.count
        } ?? false
    }
}

/// Runs `body` on a new thread that has entered network namespace `name`, and returns its
/// result (nil if the namespace could not be entered). Waits at most 30 s.
func inNamespace<Result: Sendable>(_ name: String, _ body: @escaping @Sendable () -> Result) -> Result? {
    let outcome = ResultBox<Result>()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        defer { done.signal() }
        let fd = open("/var/run/netns/\(name)", O_RDONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        // setns(2) via dlsym: glibc declares it only under _GNU_SOURCE. The thread ends right
        // after `body`, so the rest of the process never runs in the namespace.
        typealias SetNamespace = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else { return }
        let setNamespace = unsafeBitCast(symbol, to: SetNamespace.self)
        let newNetworkNamespace: Int32 = 0x4000_0000 // CLONE_NEWNET
        guard setNamespace(fd, newNetworkNamespace) == 0 else { return }
        outcome.set(body())
    }
    thread.start()
    guard done.wait(timeout: .now() + 30) == .success else { return nil }
    return outcome.get()
}

/// The result of a namespace thread. `@unchecked Sendable`: `value` is only touched under `lock`.
private final class ResultBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value?
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
    func get() -> Value? { lock.withLock { value } }
}
