import NIOCore
import PlexusCrypto
import PlexusNoise

/// Decodes and decrypts incoming transport messages from a cumulation buffer.
///
/// Guarantees: a message is only acted on after it authenticates under the next nonce
/// (so replayed, reordered, truncated or altered messages fail); each length is checked
/// against a named limit before anything is allocated; reassembled frames never exceed
/// `maximumFrameSize`; plaintext is decrypted straight from the inbound bytes into the
/// buffer handed to the application (one copy). Pure: no I/O, usable from a fuzzer.
struct TransportReader {
    enum Event {
        case hello([UInt8])
        case frame(ByteBuffer)
    }

    private(set) var cipher: CipherState
    let rekeyInterval: UInt64
    let maximumFrameSize: Int
    /// True until the responder's HELLO has been received (initiator side only).
    private(set) var expectingHello: Bool
    private var reassembly: ByteBuffer?

    /// True while fragments of an unfinished frame are held.
    var hasPartialFrame: Bool { reassembly != nil }

    init(cipher: CipherState, rekeyInterval: UInt64, maximumFrameSize: Int, expectingHello: Bool) {
        self.cipher = cipher
        self.rekeyInterval = rekeyInterval
        self.maximumFrameSize = maximumFrameSize
        self.expectingHello = expectingHello
    }

    /// Consumes every complete message at the front of `buffer` and returns what it
    /// carried, in order. Incomplete trailing bytes stay in `buffer`.
    mutating func read(from buffer: inout ByteBuffer, allocator: ByteBufferAllocator) throws -> [Event] {
        var events: [Event] = []
        while buffer.readableBytes >= SessionLimits.lengthPrefixSize {
            let length = Int(buffer.getInteger(at: buffer.readerIndex, as: UInt16.self)!)
            guard length >= SessionLimits.minimumTransportMessageLength else {
                throw SessionError.messageLengthOutOfRange(
                    length, allowed: SessionLimits.minimumTransportMessageLength...SessionLimits.maximumMessageLength,
                    duringHandshake: expectingHello)
            }
            guard buffer.readableBytes >= SessionLimits.lengthPrefixSize + length else { break }
            let plaintextLength = length - NoiseLimits.tagLength
            let bodyLength = plaintextLength - SessionLimits.fragmentTrailerSize

            // Decrypt into the frame's destination: the reassembly buffer, or a fresh buffer.
            var destination: ByteBuffer
            if var partial = reassembly {
                reassembly = nil
                guard partial.readableBytes + bodyLength <= maximumFrameSize else {
                    throw SessionError.frameTooLarge(partial.readableBytes + bodyLength, limit: maximumFrameSize)
                }
                if partial.writableBytes < plaintextLength {
                    // Grow geometrically so a large frame costs amortised O(size).
                    partial.reserveCapacity(min(max(partial.capacity * 2, partial.writerIndex + plaintextLength),
                                                maximumFrameSize + plaintextLength))
                }
                destination = partial
            } else {
                // A maximal message is almost always the first fragment of a larger frame:
                // leave room for a second one so a 64 KiB frame needs no reallocation.
                let isMaximal = bodyLength == SessionLimits.maximumFragmentBody
                let capacity = isMaximal ? min(2 * SessionLimits.maximumMessageLength, maximumFrameSize + plaintextLength) : plaintextLength
                destination = allocator.buffer(capacity: max(capacity, plaintextLength))
            }
            var cipher = self.cipher
            let type: UInt8 = try buffer.withUnsafeReadableBytes { inbound in
                let ciphertext = UnsafeRawBufferPointer(rebasing: inbound[SessionLimits.lengthPrefixSize..<SessionLimits.lengthPrefixSize + length])
                return try destination.withUnsafeMutableWritableBytes { writable in
                    let plaintext = UnsafeMutableRawBufferPointer(rebasing: writable[0..<plaintextLength])
                    do {
                        _ = try cipher.decrypt(from: ciphertext, into: plaintext)
                    } catch let error as NoiseError {
                        throw SessionError.authenticationFailed(error)
                    }
                    return plaintext[bodyLength]
                }
            }
            if cipher.nonce % rekeyInterval == 0 { cipher.rekey() }
            self.cipher = cipher
            buffer.moveReaderIndex(forwardBy: SessionLimits.lengthPrefixSize + length)

            switch TransportMessageType(rawValue: type) {
            case .hello?:
                guard expectingHello else {
                    throw SessionError.malformedMessage("unexpected HELLO after the handshake", duringHandshake: false)
                }
                expectingHello = false
                destination.moveWriterIndex(forwardBy: bodyLength)
                events.append(.hello(destination.readBytes(length: bodyLength)!))
            case .fragment?, .finalFragment?:
                guard !expectingHello else {
                    throw SessionError.malformedMessage("application data before the responder's HELLO", duringHandshake: true)
                }
                destination.moveWriterIndex(forwardBy: bodyLength)
                guard destination.readableBytes <= maximumFrameSize else {
                    throw SessionError.frameTooLarge(destination.readableBytes, limit: maximumFrameSize)
                }
                if type == TransportMessageType.finalFragment.rawValue {
                    events.append(.frame(destination))
                } else {
                    reassembly = destination
                }
            case nil:
                throw SessionError.malformedMessage("unknown message type 0x\(String(type, radix: 16))", duringHandshake: expectingHello)
            }
        }
        return events
    }
}

extension CipherState {
    /// Decrypts `ciphertext` (with tag) into `plaintext` (may not overlap), empty AD.
    @inline(__always)
    mutating func decrypt(from ciphertext: UnsafeRawBufferPointer, into plaintext: UnsafeMutableRawBufferPointer) throws -> Int {
        try decryptOutOfPlace(associatedData: UnsafeRawBufferPointer(start: nil, count: 0), ciphertext: ciphertext, plaintext: plaintext)
    }
}
