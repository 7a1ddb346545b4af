import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The systemd notification protocol (`sd_notify`), so the unit can be `Type=notify`: when
/// `NOTIFY_SOCKET` is set, `notify("READY=1")` sends one datagram to that unix socket (an
/// abstract one when the path starts with `@`). Without the variable it does nothing.
enum SystemdNotifier {
    /// Sends `state` (e.g. `READY=1`, `STOPPING=1`, `STATUS=...`); false if not under systemd or
    /// the send failed (systemd then times out the start, which is the right failure).
    @discardableResult
    static func notify(_ state: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        #if os(Linux)
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty else { return false }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                message.withUnsafeBytes { sendto(descriptor, $0.baseAddress, $0.count, 0, socketAddress, length) }
            }
        }
        return sent == message.count
        #else
        return false
        #endif
    }
}
