// libFuzzer target for cluster-key input from other relays: sealed payloads
// of both suites (`SealedEnvelope.header`/`open`, XChaCha20-Poly1305 and AES-256-GCM with one
// `FastSealState` kept across inputs, as a relay keeps it) and directory claims and suite claims (`MembershipDecoder` with claimed records,
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
/// The opening relay's suite-2 state, kept across inputs (libFuzzer runs them on one thread).
nonisolated(unsafe) private var receiver = FastSealState()
nonisolated(unsafe) private var sender = FastSealState()

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
        _ = try? open(rest, context: sequenced)
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
                _ = ClaimProof.verify(claim.proof, key: key, name: claimed, node: record.node, version: record.version,
                                      suites: ClaimProof.fastSuites)
            }
            let again = MembershipEncoder.encode(MembershipPacket(sender: record.node, message: .gossip(updates: [.record(record)])))
            guard case .gossip(let updates)? = (try? MembershipDecoder.decode(again))?.message, updates == [.record(record)] else {
                fatalError("claimed record did not survive a round trip")
            }
        }
    default:
        // Bit 2 of the mode picks the suite (suite 2 only where the CPU has AES-NI).
        let fast = mode & 4 != 0 && receiver.isEnabled
        let sealed = fast ? SealedEnvelope.sealFast(rest, key: key, context: context, fast: &sender)!
                          : SealedEnvelope.seal(rest, key: key, context: context)
        guard (try? open(sealed, context: context)) == rest else { fatalError("seal/open round trip") }
        var changed = sealed
        let index = Int(mode) % changed.count
        changed[index] ^= 0x80
        if (try? open(changed, context: context)) != nil { fatalError("a changed byte still opened") }
    }
}

/// Opens with the kept suite-2 state (the relay core's path).
private func open(_ sealed: [UInt8], context: SealContext) throws -> [UInt8] {
    try sealed.withUnsafeBytes { bytes in
        var failure: (any Error)?
        let plaintext = [UInt8](unsafeUninitializedCapacity: max(1, SealedEnvelope.openBufferCount(sealedCount: bytes.count))) { out, count in
            do {
                count = try SealedEnvelope.open(bytes, keys: keys, context: context, fast: &receiver,
                                                into: UnsafeMutableRawBufferPointer(out))
            } catch {
                failure = error
                count = 0
            }
        }
        if let failure { throw failure }
        return plaintext
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
