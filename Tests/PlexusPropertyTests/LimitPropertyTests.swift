import NIOCore
@testable import Plexus
import PlexusPeerWire
import PlexusRelayCore
import PlexusVocabulary
import PlexusWire
import PropertyBased
import Testing

/// Property-based tests of the limits (issue 10): names of any length and bytes are accepted iff
/// `OverlayLimits` allows them, at the relay core and in the Swift binding; the decoders never
/// crash on arbitrary bytes and refuse an oversize length as soon as it is read.
@Suite struct LimitPropertyTests {
    /// Cases per property.
    static let cases = 300

    static let anyName = Gen.uint8().array(of: 0...400)
    static let anyBytes = Gen.uint8().array(of: 0...512)

    static func core() -> RelayCore { RelayCore(configuration: CoreConfiguration()) }
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func aClusterNameIsAcceptedIffWithinTheLimits() async {
        await propertyCheck(count: Self.cases, input: Self.anyName) { name in
            var core = Self.core()
            let id = ConnectionID(1)
            core.connectionOpened(id, now: Self.start)
            core.receive(.initiate(version: ByteBuffer(string: WireConstants.protocolVersion), cluster: ByteBuffer(bytes: name)),
                         from: id, now: Self.start)
            let accepted = core.effects.contains {
                if case .send(_, .accept) = $0 { return true }
                return false
            }
            // An empty cluster is a plain client; otherwise the name must be within the limits.
            #expect(accepted == (name.isEmpty || OverlayLimits.nameBytes.contains(name.count)), "\(name.count) bytes")
            #expect(core.statistics.clusters == (accepted && !name.isEmpty ? 1 : 0))
            if !accepted, let refusal = OverlayLimits.nameRefusal(kind: "cluster", byteCount: name.count) {
                #expect(core.effects.contains {
                    if case .send(_, .deny(let reason)) = $0 { return reason == ByteBuffer(string: refusal) }
                    return false
                })
            }
        }
    }

    @Test func aTopicIsAcceptedIffWithinTheLimits() async {
        await propertyCheck(count: Self.cases, input: Self.anyName) { name in
            var core = Self.core()
            let id = ConnectionID(1)
            core.connectionOpened(id, now: Self.start)
            core.receive(.initiate(version: ByteBuffer(string: WireConstants.protocolVersion), cluster: ByteBuffer()), from: id, now: Self.start)
            core.effects.removeAll()
            core.receive(.subscribe(topic: ByteBuffer(bytes: name)), from: id, now: Self.start)
            let withinLimits = OverlayLimits.nameBytes.contains(name.count)
            #expect(core.effects.isEmpty == withinLimits, "\(name.count) bytes: \(core.effects)")
            #expect(core.statistics.topics == (withinLimits ? 1 : 0))
        }
    }

    @Test func theBindingTakesANameIffWithinTheLimits() async {
        await propertyCheck(count: Self.cases, input: Gen.character(in: "a"..."\u{3000}").string(of: 0...300)) { name in
            let taken = (try? Validate.name(name, "cluster")) != nil
            #expect(taken == OverlayLimits.nameBytes.contains(name.utf8.count), "\(name.utf8.count) bytes")
        }
    }

    @Test func theClientDecoderNeverCrashesAndWhatItDecodesRoundTrips() async {
        let limits = WireLimits(maxMessageBytes: 4096, maxNameBytes: 255, maxReasonBytes: 1024, maxChunkBytes: 4096)
        await propertyCheck(count: Self.cases * 3, input: Self.anyBytes) { bytes in
            var buffer = ByteBuffer(bytes: bytes)
            var packets = 0
            do {
                while let packet = try ClientPacket.decode(from: &buffer, limits: limits), packets < 1000 {
                    packets += 1
                    var encoded = ByteBuffer()
                    encoded.writeClientPacket(packet)
                    #expect((try? ClientPacket.decode(from: &encoded, limits: limits)) == packet)
                }
            } catch {
                #expect((error as? WireError)?.message.isEmpty == false) // a named violation; the connection would close
            }
        }
    }

    @Test func anOversizeNameOrPayloadIsRefusedAsSoonAsItsLengthIsRead() async {
        let limits = WireLimits.default
        await propertyCheck(count: Self.cases, input: Gen.uint64(in: 0...UInt64(UInt32.max)), Gen.bool) { length, isName in
            // A PUBLISH whose topic (or, after a 1-byte topic, event) announces `length` bytes, none of them sent.
            var whole = ByteBuffer()
            whole.writeClientPacket(.publish(topic: ByteBuffer(string: "t"), event: ByteBuffer(string: "e")))
            var buffer = ByteBuffer(bytes: Array(whole.readableBytesView.prefix(isName ? 1 : 3)))
            _ = buffer.writeVarint(length)
            let limit = UInt64(isName ? limits.maxNameBytes : limits.maxMessageBytes)
            do {
                let packet = try ClientPacket.decode(from: &buffer, limits: limits)
                #expect(length <= limit, "\(length) bytes announced, over \(limit), but not refused")
                #expect(packet == nil || length == 0 && !isName)
            } catch {
                #expect(length > limit, "refused \(length) bytes within \(limit): \(error)")
                #expect((error as? WireError)?.code == .lengthOverLimit)
            }
        }
    }

    @Test func thePeerFrameDecoderNeverCrashes() async {
        let decoder = PeerFrameDecoder(limits: PeerFrameLimits(maxMessageBytes: 256, maxNameBytes: 255, maxReasonBytes: 64, maxChunkBytes: 256))
        await propertyCheck(count: Self.cases * 3, input: Self.anyBytes) { bytes in
            let input = ByteBuffer(bytes: bytes)
            if let frame = try? decoder.decode(input) {
                let encoded = PeerFrameEncoder.encode(frame)
                #expect((try? decoder.decode(encoded)) == frame)
            }
            var frames = 0
            try? PeerFrameBatch.forEachFrame(in: input, decoder: decoder) { _ in frames += 1 }
            #expect(frames >= 0)
        }
    }
}
