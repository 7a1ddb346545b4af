import NIOCore
import PlexusCrypto
import PlexusNoise

/// The kind of a transport message, carried in the last plaintext byte (a trailer, so
/// fragment bodies decrypt contiguously into the reassembly buffer).
enum TransportMessageType: UInt8 {
    /// The responder's key confirmation carrying its `HandshakePayload`; first message only.
    case hello = 0x01
    /// A fragment of an application frame; more fragments follow.
    case fragment = 0x02
    /// The last (or only) fragment of an application frame.
    case finalFragment = 0x03
}

/// Encrypts outgoing messages straight into an outbound `ByteBuffer`.
///
/// Guarantees: every message is `u16 length || ChaChaPoly(body || type)` with length
/// <= 65535; frames above `maximumFragmentBody` are split; the payload is copied once
/// (into the destination) and encrypted in place there; both directions rekey after
/// every `rekeyInterval` messages.
struct TransportWriter {
    private(set) var cipher: CipherState
    let rekeyInterval: UInt64
    let maximumFrameSize: Int

    init(cipher: CipherState, rekeyInterval: UInt64, maximumFrameSize: Int) {
        self.cipher = cipher
        self.rekeyInterval = rekeyInterval
        self.maximumFrameSize = maximumFrameSize
    }

    /// Appends the encrypted fragments of `frame` to `out`.
    mutating func writeFrame(_ frame: ByteBuffer, into out: inout ByteBuffer) throws {
        guard frame.readableBytes <= maximumFrameSize else {
            throw SessionError.frameTooLarge(frame.readableBytes, limit: maximumFrameSize)
        }
        let fragments = max(1, (frame.readableBytes + SessionLimits.maximumFragmentBody - 1) / SessionLimits.maximumFragmentBody)
        out.reserveCapacity(minimumWritableBytes: frame.readableBytes + fragments * (SessionLimits.lengthPrefixSize + SessionLimits.minimumTransportMessageLength))
        try frame.withUnsafeReadableBytes { bytes in
            var offset = 0
            repeat {
                let length = min(SessionLimits.maximumFragmentBody, bytes.count - offset)
                let isLast = offset + length == bytes.count
                try writeMessage(type: isLast ? .finalFragment : .fragment,
                                 body: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length]), into: &out)
                offset += length
            } while offset < bytes.count
        }
    }

    /// Appends one encrypted message to `out`.
    mutating func writeMessage(type: TransportMessageType, body: UnsafeRawBufferPointer, into out: inout ByteBuffer) throws {
        precondition(body.count <= SessionLimits.maximumFragmentBody)
        let plaintextLength = body.count + SessionLimits.fragmentTrailerSize
        let messageLength = plaintextLength + NoiseLimits.tagLength
        out.writeInteger(UInt16(messageLength))
        var cipher = self.cipher
        try out.writeWithUnsafeMutableBytes(minimumWritableBytes: messageLength) { destination in
            if body.count > 0 {
                destination.baseAddress!.copyMemory(from: body.baseAddress!, byteCount: body.count)
            }
            destination[body.count] = type.rawValue
            return try cipher.encryptInPlace(associatedData: UnsafeRawBufferPointer(start: nil, count: 0),
                                             buffer: UnsafeMutableRawBufferPointer(rebasing: destination[0..<messageLength]),
                                             plaintextLength: plaintextLength)
        }
        if cipher.nonce % rekeyInterval == 0 { cipher.rekey() }
        self.cipher = cipher
    }
}
