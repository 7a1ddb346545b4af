/// A relay's claim, in its directory record, that a cluster or topic is protected by a key it
/// holds: the key's fingerprint and a proof only a key holder can compute (`PlexusCrypto.ClaimProof`,
/// bound to the relay's node ID, the record's version and the name). Membership carries claims
/// without understanding them; the relay core verifies them before routing (`Docs/cluster-keys.md`).
///
/// Guarantees: the wire codec accepts only claims within the named limits below.
public struct ProtectedClaim: Sendable, Equatable, Hashable {
    /// What the name is.
    public enum Kind: UInt8, Sendable, Hashable { case cluster = 1, topic = 2 }

    /// Claims in one record.
    public static let maxPerRecord = 256
    /// Bytes of a proof.
    public static let proofByteCount = 16

    public var kind: Kind
    public var name: Name
    /// The key fingerprint (8 bytes, big-endian).
    public var fingerprint: UInt64
    /// Exactly `proofByteCount` bytes.
    public var proof: [UInt8]

    public init(kind: Kind, name: Name, fingerprint: UInt64, proof: [UInt8]) {
        self.kind = kind
        self.name = name
        self.fingerprint = fingerprint
        self.proof = proof
    }
}

/// How the owning relay computes its claims for a record version: membership calls it every time
/// its own record gets a new version, so the proofs always match the version they travel with.
///
/// Guarantees: two values are equal only if they are the same signer (an identity drawn at init).
public struct ClaimSigning: Sendable, Equatable {
    private let identity: UInt64
    let sign: @Sendable (NodeID, UInt64) -> [ProtectedClaim]

    /// `sign(node, version)` returns the claims of the record of `node` at `version`.
    public init(_ sign: @escaping @Sendable (NodeID, UInt64) -> [ProtectedClaim]) {
        identity = UInt64.random(in: .min ... .max)
        self.sign = sign
    }

    public static func == (lhs: ClaimSigning, rhs: ClaimSigning) -> Bool { lhs.identity == rhs.identity }
}

// MARK: - Wire format (Docs/cluster-keys.md, "Directory claims")
//
// A record with claims travels as update kind 6 (`claimedRecord`) = the kind-5 record followed by
// a claims section; a record without claims is encoded exactly as before (kind 5). In push-pull,
// flag bit 0x02 says every record is followed by a claims section.
//
//   claims = count u16 ‖ count × ( kind u8 (1 cluster, 2 topic) ‖ name (u8 length 1…255, bytes)
//            ‖ fingerprint u64 ‖ proof (16) )

extension ByteWriter {
    mutating func claims(_ claims: [ProtectedClaim]) {
        precondition(claims.count <= ProtectedClaim.maxPerRecord, "more claims than the wire carries")
        u16(UInt16(claims.count))
        for claim in claims {
            precondition(claim.proof.count == ProtectedClaim.proofByteCount && !claim.name.bytes.isEmpty)
            u8(claim.kind.rawValue)
            shortBytes(claim.name.bytes, limit: WireLimits.maxNameLength)
            u64(claim.fingerprint)
            bytes.append(contentsOf: claim.proof)
        }
    }
}

extension ByteReader {
    mutating func claims() throws(MembershipDecodingError) -> [ProtectedClaim] {
        let count = Int(try u16())
        try checkCount(count, limit: ProtectedClaim.maxPerRecord,
                       minimumElementSize: 1 + 2 + 8 + ProtectedClaim.proofByteCount, field: "claims")
        var claims = [ProtectedClaim]()
        claims.reserveCapacity(count)
        for _ in 0..<count {
            let kindByte = try u8()
            guard let kind = ProtectedClaim.Kind(rawValue: kindByte) else { throw .valueOutOfRange(field: "claim kind") }
            let name = Name(bytes: try shortBytes(field: "claim name", minimum: 1, limit: WireLimits.maxNameLength))
            let fingerprint = try u64()
            claims.append(ProtectedClaim(kind: kind, name: name, fingerprint: fingerprint,
                                         proof: try raw(ProtectedClaim.proofByteCount)))
        }
        return claims
    }
}

extension MembershipEncoder {
    /// Encoded bytes of a claims section.
    static func size(of claims: [ProtectedClaim]) -> Int {
        2 + claims.reduce(0) { $0 + 1 + 1 + $1.name.bytes.count + 8 + ProtectedClaim.proofByteCount }
    }
}
