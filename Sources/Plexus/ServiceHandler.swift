import NIOCore

/// The application side of a service (a connection registered in a cluster).
///
/// Calls run on Swift concurrency worker tasks, never on the connection's event loop. At most
/// `ServiceLimits.requestConcurrency` `handleRequest` calls (and `broadcastConcurrency`
/// `handleBroadcast` calls) run at once; every `handleTunnel` call gets its own task.
public protocol ServiceHandler: Sendable {
    /// Answers one request. A thrown error becomes a remote fault whose text is the
    /// `ServiceFault.message`, the text of `PlexusError.remoteFault`, or `String(describing:)`.
    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer
    /// Handles one broadcast to the cluster. Default: ignore.
    func handleBroadcast(_ message: ByteBuffer) async
    /// Serves one inbound tunnel; the binding does not close it when this returns. Default: close it.
    func handleTunnel(_ tunnel: Tunnel) async
    /// The relay connection was lost (relay CLOSE with a reason, EOF, protocol violation, close
    /// bound passed); `reason` is the text of the `PlexusError.connectionLost`. With reconnect on,
    /// the binding then registers the service again by itself. Not called after a graceful
    /// close. Default: ignore.
    func handleDrop(reason: String) async
}

extension ServiceHandler {
    public func handleBroadcast(_ message: ByteBuffer) async {}
    public func handleTunnel(_ tunnel: Tunnel) async { try? await tunnel.close() }
    public func handleDrop(reason: String) async {}
}
