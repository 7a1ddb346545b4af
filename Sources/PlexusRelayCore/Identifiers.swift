import NIOCore

/// Names one client connection for the lifetime of the relay; never reused.
public struct ConnectionID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (lhs: ConnectionID, rhs: ConnectionID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "conn#\(rawValue)" }
}

/// A cluster or topic name: opaque bytes compared byte-for-byte (spec §2).
///
/// Lookups may use a slice of a read buffer directly (`WireName(slice)`); anything stored as a
/// dictionary key must go through `WireName.compact(_:)`, which copies the bytes into a buffer of
/// their own so that a stored name never pins a large read buffer.
struct WireName: Hashable, Sendable, CustomStringConvertible {
    var bytes: ByteBuffer

    init(_ bytes: ByteBuffer) { self.bytes = bytes }

    static func compact(_ slice: ByteBuffer) -> WireName {
        var copy = ByteBufferAllocator().buffer(capacity: slice.readableBytes)
        copy.writeImmutableBuffer(slice)
        return WireName(copy)
    }

    var description: String { String(decoding: bytes.readableBytesView, as: UTF8.self) }
}

/// Relay-internal key of one linked tunnel.
struct TunnelKey: Hashable, Sendable {
    let rawValue: UInt64
}
