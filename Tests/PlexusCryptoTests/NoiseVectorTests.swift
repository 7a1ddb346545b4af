import Foundation
import PlexusCrypto
import PlexusNoise
import PlexusTestSupport
import XCTest

/// The cacophony vectors for 25519/ChaChaPoly/BLAKE2b, byte for byte.
final class NoiseVectorTests: XCTestCase {
    struct Vector: Decodable {
        struct Message: Decodable { let payload: String; let ciphertext: String }
        let protocol_name: String
        let init_prologue: String
        let init_psks: [String]?
        let init_static: String?
        let init_ephemeral: String
        let init_remote_static: String?
        let resp_prologue: String
        let resp_psks: [String]?
        let resp_static: String?
        let resp_ephemeral: String?
        let resp_remote_static: String?
        let handshake_hash: String
        let messages: [Message]
    }

    static func loadVectors(_ file: String = "cacophony-25519-chachapoly-blake2b.json") throws -> [Vector] {
        let url = try vendoredVector(file)
        struct File: Decodable { let vectors: [Vector] }
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).vectors
    }

    func testRequiredPatternsByteForByte() throws {
        let vectors = try Self.loadVectors()
        for name in ["NN", "NNpsk0", "NNpsk2", "XX", "XXpsk3"] {
            let protocolName = "Noise_\(name)_25519_ChaChaPoly_BLAKE2b"
            let vector = try XCTUnwrap(vectors.first { $0.protocol_name == protocolName }, "no vector for \(protocolName)")
            try Self.runVector(vector, pattern: HandshakePattern.named(name))
        }
    }

    /// Every fundamental pattern and psk variant in the file (deferred patterns such as
    /// NK1 are not implemented and are skipped).
    func testAllFundamentalAndPSKPatterns() throws {
        var ran = 0
        for vector in try Self.loadVectors() {
            let name = vector.protocol_name.split(separator: "_")[1]
            guard let pattern = try? HandshakePattern.named(String(name)) else { continue }
            try Self.runVector(vector, pattern: pattern)
            ran += 1
        }
        XCTAssertEqual(ran, 36, "expected 15 fundamental + 21 psk vectors")
    }

    func testProtocolNameAndPatternTokens() throws {
        let pattern = HandshakePattern.XXpsk3
        XCTAssertEqual(pattern.messages, [[.e], [.e, .ee, .s, .es], [.s, .se, .psk]])
        XCTAssertEqual(HandshakePattern.NNpsk0.messages, [[.psk, .e], [.e, .ee]])
    }

    /// `checkHandshakeHash`: false for a vector file whose `handshake_hash` field follows another
    /// definition (see Vectors/README.md); the ciphertexts still pin every key and hash, because
    /// each handshake tag authenticates `h` and the transport messages use the split keys.
    static func runVector(_ vector: Vector, pattern: HandshakePattern, cipher: NoiseCipher = .chaChaPoly, checkHandshakeHash: Bool = true,
             file: StaticString = #filePath, line: UInt = #line) throws {
        func pair(_ hexKey: String?) throws -> X25519KeyPair? {
            try hexKey.map { X25519KeyPair(privateKey: try X25519PrivateKey(bytes: hexBytes($0))) }
        }
        var initiator = try HandshakeState(
            pattern: pattern, role: .initiator, prologue: hexBytes(vector.init_prologue),
            staticKeyPair: pair(vector.init_static),
            remoteStaticKey: vector.init_remote_static.map { try X25519PublicKey(bytes: hexBytes($0)) },
            presharedKeys: (vector.init_psks ?? []).map { try NetworkKey(bytes: hexBytes($0)) },
            fixedEphemeral: pair(vector.init_ephemeral), cipher: cipher)
        var responder = try HandshakeState(
            pattern: pattern, role: .responder, prologue: hexBytes(vector.resp_prologue),
            staticKeyPair: pair(vector.resp_static),
            remoteStaticKey: vector.resp_remote_static.map { try X25519PublicKey(bytes: hexBytes($0)) },
            presharedKeys: (vector.resp_psks ?? []).map { try NetworkKey(bytes: hexBytes($0)) },
            fixedEphemeral: pair(vector.resp_ephemeral), cipher: cipher)

        var initiatorCiphers: TransportCiphers?
        var responderCiphers: TransportCiphers?
        for (index, message) in vector.messages.enumerated() {
            let context = "\(vector.protocol_name) message \(index)"
            let initiatorSends = pattern.isOneWay || index % 2 == 0
            let payload = hexBytes(message.payload)
            let ciphertext: [UInt8]
            let received: [UInt8]
            if !initiator.isComplete {
                if initiatorSends {
                    ciphertext = try initiator.writeMessage(payload: payload)
                    received = try responder.readMessage(ciphertext)
                } else {
                    ciphertext = try responder.writeMessage(payload: payload)
                    received = try initiator.readMessage(ciphertext)
                }
                if initiator.isComplete {
                    XCTAssertTrue(responder.isComplete, context, file: file, line: line)
                    XCTAssertEqual(initiator.handshakeHash, responder.handshakeHash, context, file: file, line: line)
                }
                if initiator.isComplete, checkHandshakeHash {
                    XCTAssertEqual(hexString(initiator.handshakeHash), vector.handshake_hash, context, file: file, line: line)
                    XCTAssertEqual(hexString(responder.handshakeHash), vector.handshake_hash, context, file: file, line: line)
                }
                if initiator.isComplete {
                    initiatorCiphers = try initiator.split()
                    responderCiphers = try responder.split()
                }
            } else {
                if initiatorSends {
                    ciphertext = try initiatorCiphers!.send.encrypt(associatedData: [], plaintext: payload)
                    received = try responderCiphers!.receive.decrypt(associatedData: [], ciphertext: ciphertext)
                } else {
                    ciphertext = try responderCiphers!.send.encrypt(associatedData: [], plaintext: payload)
                    received = try initiatorCiphers!.receive.decrypt(associatedData: [], ciphertext: ciphertext)
                }
            }
            XCTAssertEqual(hexString(ciphertext), message.ciphertext, context, file: file, line: line)
            XCTAssertEqual(received, payload, context, file: file, line: line)
        }
        XCTAssertNotNil(initiatorCiphers, "\(vector.protocol_name): handshake never completed", file: file, line: line)
    }
}
