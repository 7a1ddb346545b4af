/// A gateway relay's announcement, in its directory record, of interest in another overlay
/// (`Docs/federation.md` §3): "cluster X is served in overlay eu, reachable through me" or
/// "topic T is wanted in overlay eu, send its events to me". Membership carries routes without
/// understanding them; the relay core routes by them only when no local member is available.
///
/// Guarantees: the wire codec accepts only routes within the named limits below.
public struct GatewayRoute: Sendable, Equatable, Hashable, Comparable {
    /// What the name is.
    public enum Kind: UInt8, Sendable, Hashable { case cluster = 1, topic = 2 }

    /// Routes in one record.
    public static let maxPerRecord = 128
    /// Longest overlay name, in bytes.
    public static let maxOverlayBytes = 64

    public var kind: Kind
    /// The remote overlay's name (1 … `maxOverlayBytes` bytes).
    public var overlay: Name
    /// The cluster served or topic wanted there (1 … 255 bytes).
    public var name: Name

    public init(kind: Kind, overlay: Name, name: Name) {
        self.kind = kind
        self.overlay = overlay
        self.name = name
    }

    public static func < (lhs: GatewayRoute, rhs: GatewayRoute) -> Bool {
        (lhs.kind.rawValue, lhs.overlay, lhs.name) < (rhs.kind.rawValue, rhs.overlay, rhs.name)
    }
}

// MARK: - Wire format (Docs/federation.md, "Gateway routes in the directory")
//
// A record with gateway routes travels as update kind 7 (`gatewayRecord`) = the kind-5 record,
// its claims section (possibly empty: count 0), then a routes section. A record without routes is
// encoded exactly as before (kind 5 or 6). In push-pull, flag bit 0x04 says every record is
// followed by a routes section (after its claims section when bit 0x02 is set too).
//
//   routes = count u16 ‖ count × ( kind u8 (1 cluster, 2 topic) ‖ overlay (u8 length 1…64, bytes)
//            ‖ name (u8 length 1…255, bytes) )

extension ByteWriter {
    mutating func gatewayRoutes(_ routes: [GatewayRoute]) {
        precondition(routes.count <= GatewayRoute.maxPerRecord, "more gateway routes than the wire carries")
        u16(UInt16(routes.count))
        for route in routes {
            precondition(!route.name.bytes.isEmpty && !route.overlay.bytes.isEmpty)
            u8(route.kind.rawValue)
            shortBytes(route.overlay.bytes, limit: GatewayRoute.maxOverlayBytes)
            shortBytes(route.name.bytes, limit: WireLimits.maxNameLength)
        }
    }
}

extension ByteReader {
    mutating func gatewayRoutes() throws(MembershipDecodingError) -> [GatewayRoute] {
        let count = Int(try u16())
        try checkCount(count, limit: GatewayRoute.maxPerRecord, minimumElementSize: 1 + 2 + 2, field: "gateway routes")
        var routes = [GatewayRoute]()
        routes.reserveCapacity(count)
        for _ in 0..<count {
            let kindByte = try u8()
            guard let kind = GatewayRoute.Kind(rawValue: kindByte) else { throw .valueOutOfRange(field: "gateway route kind") }
            let overlay = Name(bytes: try shortBytes(field: "gateway route overlay", minimum: 1, limit: GatewayRoute.maxOverlayBytes))
            let name = Name(bytes: try shortBytes(field: "gateway route name", minimum: 1, limit: WireLimits.maxNameLength))
            routes.append(GatewayRoute(kind: kind, overlay: overlay, name: name))
        }
        return routes
    }
}

extension MembershipEncoder {
    /// Encoded bytes of a routes section.
    static func size(of routes: [GatewayRoute]) -> Int {
        2 + routes.reduce(0) { $0 + 1 + 1 + $1.overlay.bytes.count + 1 + $1.name.bytes.count }
    }
}
