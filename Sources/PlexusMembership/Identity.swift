// NodeID and Name live in PlexusVocabulary, shared by every module; re-exported so that users
// of the membership see them as part of its API.
@_exported import PlexusVocabulary

/// Where a relay can be reached: a host string and a port. Data attached to a member, not its
/// identity.
public struct NodeAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }
}
