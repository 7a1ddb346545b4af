import NIOCore
import NIOPosix
import PlexusSession

extension PeerLinks {
    /// Binds a session listener of the links' own on `configuration.host:port` (tests and
    /// tools; a relay takes its sessions from the shared peer port instead). It speaks the peer
    /// port's wire: the 'S' preface, then the Noise handshake; any other preface is refused. Its
    /// admission (per source, total, handshake deadline, accept backoff) is the links' own.
    static func bindListener(_ bound: NIOLoopBound<PeerLinks>, configuration: PeerLinksConfiguration) async throws {
        let server = try await ServerBootstrap(group: bound.eventLoop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { server in
                server.eventLoop.makeCompletedFuture {
                    // Out of file descriptors: pause accepting instead of spinning.
                    try server.pipeline.syncOperations.addHandler(AcceptBackoffHandler(backoffProvider: { error in
                        bound.value.admission.acceptBackoff(after: error)
                    }))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(PeerPortPrefaceHandler(served: [.messagingSession]) { _, _ in
                        try bound.value.inboundPipeline()
                    })
                    // Counts the connection once, at accept (before its preface); closes those
                    // that do not authenticate in time.
                    try sync.addHandler(bound.value.admission.makeHandler())
                }
            }
            .bind(host: configuration.host, port: configuration.port).get()
        try await bound.eventLoop.submit {
            bound.value.server = server
            bound.value.port = server.localAddress?.port ?? configuration.port
        }.get()
    }
}
