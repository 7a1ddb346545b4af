#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import PlexusWire

/// Floods one port for `--seconds`, keeping `--connections` connections open (re-opening those
/// the relay closes, at most every `reopenInterval`):
/// * `garbage`: each connection sends 4 KiB of random bytes (not a protocol handshake);
/// * `partial`: a valid handshake, then a PUBLISH announcing a 32 MiB event of which 256 KiB
///   are sent at once and 1 KiB more every round (a slow, huge, never-finished frame);
/// * `idle`: connect and send nothing;
/// * `http`: an HTTP request head sent one line per round, never finished;
/// * `datagrams`: UDP datagrams of random bytes and sizes, as fast as `--rate` allows.
/// Prints "FINAL {connects, connectFailures, closedByPeer, bytesSent, datagrams}".
enum Flood {
    static let reopenInterval = Duration.milliseconds(200)
    static let partialEventBytes = 32 << 20
    static let partialFirstBytes = 256 << 10

    static func run(_ options: Options) throws {
        let kind = options.string("kind", "garbage"), host = options.string("host", "127.0.0.1")
        let port = options.int("port", 55555), connections = options.int("connections", 100)
        let deadline = ContinuousClock.now + .seconds(options.double("seconds", 10))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw FloodError("bad IPv4 address \(host)") }
        if kind == "datagrams" {
            let sent = datagrams(to: address, rate: options.int("rate", 2000), until: deadline)
            LineOutput.shared.line("FINAL " + jsonLine(["datagrams": sent]))
            return
        }
        var sockets = [Int32](repeating: -1, count: connections)
        var progress = [Int](repeating: 0, count: connections)
        var connects = 0, failures = 0, closed = 0, bytes = 0
        var junk = [UInt8](repeating: 0, count: 65_536)
        while ContinuousClock.now < deadline {
            let roundStart = ContinuousClock.now
            for slot in 0..<connections {
                if sockets[slot] >= 0, isClosed(sockets[slot], scratch: &junk) {
                    close(sockets[slot])
                    sockets[slot] = -1
                    closed += 1
                }
                if sockets[slot] < 0 {
                    guard let fd = connectNonBlocking(address) else { failures += 1; continue }
                    sockets[slot] = fd
                    progress[slot] = 0
                    connects += 1
                    bytes += send(fd, opening(kind))
                } else {
                    bytes += send(sockets[slot], trickle(kind, step: progress[slot]))
                    progress[slot] += 1
                }
            }
            let spent = ContinuousClock.now - roundStart
            if spent < reopenInterval { Thread.sleep(forTimeInterval: Double((reopenInterval - spent).components.attoseconds) / 1e18) }
        }
        for fd in sockets where fd >= 0 { close(fd) }
        LineOutput.shared.line("FINAL " + jsonLine(["connects": connects, "connectFailures": failures, "closedByPeer": closed,
                                                    "bytesSent": bytes]))
    }

    /// What a new connection sends first.
    static func opening(_ kind: String) -> [UInt8] {
        switch kind {
        case "garbage":
            return (0..<4096).map { _ in UInt8.random(in: 0...255) }
        case "partial":
            var buffer = ByteBuffer()
            buffer.writeClientPacket(.initiate(version: ByteBuffer(string: WireConstants.protocolVersion), cluster: ByteBuffer()))
            var publish = ByteBuffer()
            publish.writeClientPacket(.publish(topic: ByteBuffer(string: "flood"), event: ByteBuffer(bytes: [0])))
            // opcode, varint 5, "flood": then the event's length, announced huge.
            buffer.writeBytes(Array(publish.readableBytesView.prefix(7)))
            _ = buffer.writeVarint(UInt64(partialEventBytes))
            buffer.writeBytes([UInt8](repeating: 0x61, count: partialFirstBytes))
            return Array(buffer.readableBytesView)
        case "http":
            return Array("GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n".utf8)
        default:
            return []
        }
    }

    /// What an open connection sends each round after its opening.
    static func trickle(_ kind: String, step: Int) -> [UInt8] {
        switch kind {
        case "partial": [UInt8](repeating: 0x62, count: 1024)
        case "http": Array("X-Slow-\(step): \(step)\r\n".utf8)
        default: []
        }
    }

    static func connectNonBlocking(_ address: sockaddr_in) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var target = address
        let result = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result == 0 { return fd }
        guard errno == EINPROGRESS else { close(fd); return nil }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard poll(&poller, 1, 200) == 1, getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Sends without blocking; returns the bytes the kernel took.
    static func send(_ fd: Int32, _ bytes: [UInt8]) -> Int {
        guard !bytes.isEmpty else { return 0 }
        let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
        return max(0, sent)
    }

    /// Reads and discards what the peer sent; true when it closed (or reset) the connection.
    static func isClosed(_ fd: Int32, scratch: inout [UInt8]) -> Bool {
        for _ in 0..<16 {
            let count = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count == 0 { return true }
            if count < 0 { return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) }
        }
        return false
    }

    static func datagrams(to address: sockaddr_in, rate: Int, until deadline: ContinuousClock.Instant) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var target = address, sent = 0
        let perTick = max(1, rate / 100)
        while ContinuousClock.now < deadline {
            for _ in 0..<perTick {
                let bytes = (0..<Int.random(in: 1...1400)).map { _ in UInt8.random(in: 0...255) }
                let result = bytes.withUnsafeBytes { raw in
                    withUnsafePointer(to: &target) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            sendto(fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                        }
                    }
                }
                if result > 0 { sent += 1 }
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return sent
    }
}

struct FloodError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
