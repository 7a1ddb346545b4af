#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore

/// Turns `Codable` values into message bytes and back, for the `Codable` conveniences of
/// `Connection` and for `CodableService`. Pluggable: pass your own to `Connection.connect`
/// or `register` (e.g. a binary format); `JSONMessageCoder` is the default.
public protocol MessageCoder: Sendable {
    func encode<Value: Encodable>(_ value: Value) throws -> ByteBuffer
    func decode<Value: Decodable>(_ type: Value.Type, from buffer: ByteBuffer) throws -> Value
}

/// JSON with Foundation's default strategies: UTF-8 bytes of one JSON value per message.
/// Interoperates with any other binding that sends JSON text.
public struct JSONMessageCoder: MessageCoder {
    public init() {}

    public func encode<Value: Encodable>(_ value: Value) throws -> ByteBuffer {
        ByteBuffer(bytes: try JSONEncoder().encode(value))
    }

    public func decode<Value: Decodable>(_ type: Value.Type, from buffer: ByteBuffer) throws -> Value {
        try JSONDecoder().decode(type, from: Data(buffer.readableBytesView))
    }
}

extension Connection {
    /// Sends `value` (encoded by `coder`) as a request and decodes the reply as `Reply`.
    /// Errors as `request(_:to:timeout:)`, plus the coder's errors (encode before sending,
    /// decode of the reply).
    public func request<Request: Encodable, Reply: Decodable>(
        _ value: Request, to cluster: String, as type: Reply.Type, timeout: Duration
    ) async throws -> Reply {
        let reply = try await request(try coder.encode(value), to: cluster, timeout: timeout)
        return try coder.decode(type, from: reply)
    }

    /// Publishes `value`, encoded by `coder`. `String`, `[UInt8]` and `ByteBuffer` values
    /// (also array and string literals) take the raw overloads: they are sent as they are, not
    /// as JSON; this overload is disfavoured so a literal like `[1, 2]` stays bytes.
    @_disfavoredOverload
    public func publish<Value: Encodable>(_ value: Value, to topic: String) async throws {
        try await publish(try coder.encode(value), to: topic)
    }

    /// Broadcasts `value`, encoded by `coder` (disfavoured like `publish(_:to:)`).
    @_disfavoredOverload
    public func broadcast<Value: Encodable>(_ value: Value, to cluster: String) async throws {
        try await broadcast(try coder.encode(value), to: cluster)
    }
}

extension Subscription {
    /// The events decoded as `Value` by the connection's coder; an event that does not
    /// decode ends the iteration with the coder's error.
    public func decoded<Value: Decodable & Sendable>(as type: Value.Type) -> AsyncThrowingMapSequence<Subscription, Value> {
        let coder = connection.coder
        return map { event in try coder.decode(Value.self, from: event) }
    }
}

/// A service whose requests and replies are `Codable` values: register it like any
/// `ServiceHandler`. A request that does not decode is answered with a remote fault naming
/// the decoding error; an error thrown by `handle` becomes the fault text as for
/// `ServiceHandler.handleRequest`.
public struct CodableService<Request: Decodable & Sendable, Reply: Encodable & Sendable>: ServiceHandler {
    private let coder: any MessageCoder
    private let handle: @Sendable (Request) async throws -> Reply

    public init(
        coder: any MessageCoder = JSONMessageCoder(),
        _ handle: @escaping @Sendable (Request) async throws -> Reply
    ) {
        self.coder = coder
        self.handle = handle
    }

    public func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer {
        let value: Request
        do {
            value = try coder.decode(Request.self, from: request)
        } catch {
            throw ServiceFault("bad request: cannot decode \(Request.self): \(error)")
        }
        return try coder.encode(try await handle(value))
    }
}
