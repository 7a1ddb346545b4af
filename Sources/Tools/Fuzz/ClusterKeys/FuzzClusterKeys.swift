// libFuzzer target for cluster-key input from other relays: sealed payloads
// (`SealedEnvelope.header`/`open`) and directory claims (`MembershipDecoder` with claimed records,
// then `ClaimProof.verify`). Nothing may trap; a payload sealed from the input must open to it and
// fail after any one-byte change. Built only by scripts/fuzz.sh (-DPLEXUS_FUZZING); a stub otherwise.
#if PLEXUS_FUZZING
import PlexusFuzzDriver
import PlexusCrypto
import PlexusMembership
import PlexusVocabulary

private let key = (try? ClusterKey(bytes: Array(0..<32)))!
private let keys = ClusterKeySet(primary: key, accepted: [(try? ClusterKey(bytes: Array(32..<64)))!])
private let name = ProtectedName(kind: .cluster, name: Array("billing".utf8))!
private let context = SealContext(kind: .request, direction: .towardServer, name: name,
                                  origin: NodeID(high: 1, low: 2), identity: 7)

/// Byte 0 picks what the rest is: a sealed payload from a relay, a membership packet carrying
/// claims, or a plaintext to seal and open again.
private func fuzzOne(_ data: UnsafeRawBufferPointer) {
    guard let mode = data.first else { return }
    let rest = Array(data.dropFirst())
    switch mode % 3 {
    case 0:
        _ = rest.withUnsafeBytes { try? SealedEnvelope.header($0) }
        var sequenced = context
        if let header = rest.withUnsafeBytes({ try? SealedEnvelope.header($0) }) { sequenced.sequence = header.sequence }
        _ = try? SealedEnvelope.open(rest, keys: keys, context: sequenced)
    case 1:
        guard let packet = try? MembershipDecoder.decode(rest) else { return }
        var records: [DirectoryRecord] = []
        switch packet.message {
        case .gossip(let updates), .ping(_, _, let updates), .ack(_, let updates), .pingRequest(_, _, _, let updates):
            for case .record(let record) in updates { records.append(record) }
        case .pushPull(_, _, let pulled): records = pulled
        case .nack: break
        }
        for record in records {
            for claim in record.claims {
                let kind: ProtectedNameKind = claim.kind == .cluster ? .cluster : .topic
                guard let claimed = ProtectedName(kind: kind, name: claim.name.bytes) else { fatalError("decoded an invalid name") }
                _ = ClaimProof.verify(claim.proof, key: key, name: claimed, node: record.node, version: record.version)
            }
            let again = MembershipEncoder.encode(MembershipPacket(sender: record.node, message: .gossip(updates: [.record(record)])))
            guard case .gossip(let updates)? = (try? MembershipDecoder.decode(again))?.message, updates == [.record(record)] else {
                fatalError("claimed record did not survive a round trip")
            }
        }
    default:
        let sealed = SealedEnvelope.seal(rest, key: key, context: context)
        guard (try? SealedEnvelope.open(sealed, keys: keys, context: context)) == rest else { fatalError("seal/open round trip") }
        var changed = sealed
        let index = Int(mode) % changed.count
        changed[index] ^= 0x80
        if (try? SealedEnvelope.open(changed, keys: keys, context: context)) != nil { fatalError("a changed byte still opened") }
    }
}

// Top-level code: this file is the executable's entry point.
runLibFuzzer { data, size in
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
print("this fuzz target does nothing in a normal build; run scripts/fuzz.sh cluster-keys SECONDS")
#endif
