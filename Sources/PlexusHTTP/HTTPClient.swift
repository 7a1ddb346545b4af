import NIOCore
import NIOHTTP1
import NIOPosix

/// A response read by `HTTPClient`.
public struct HTTPClientResponse: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Errors of `HTTPClient`.
public enum HTTPClientError: Error, CustomStringConvertible, Equatable {
    case responseTooLarge(limit: Int)
    case timedOut(seconds: Double)
    case closedBeforeResponse

    public var description: String {
        switch self {
        case .responseTooLarge(let limit): "response body over \(limit) bytes"
        case .timedOut(let seconds): "no complete response within \(seconds) s"
        case .closedBeforeResponse: "the connection closed before a complete response"
        }
    }
}

/// A minimal HTTP/1.1 GET client on NIOHTTP1 (no hand-written parser), for `plexus status`,
/// `plexus check` and the tests: one request per connection, a deadline, a bounded body.
public enum HTTPClient {
    /// A response body larger than this fails with `.responseTooLarge`.
    public static let maximumResponseBytes = 16 * 1024 * 1024

    public static func get(host: String, port: Int, path: String, headers: [String: String] = [:],
                           timeout: TimeAmount = .seconds(5)) async throws -> HTTPClientResponse {
        try await request(.GET, host: host, port: port, path: path, headers: headers, timeout: timeout)
    }

    /// Sends one request with `method`, extra `headers` (e.g. `Authorization`) and an optional
    /// `body`, and reads the response.
    public static func request(_ method: HTTPMethod, host: String, port: Int, path: String, body: [UInt8] = [],
                               headers extraHeaders: [String: String] = [:], timeout: TimeAmount = .seconds(5)) async throws -> HTTPClientResponse {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: HTTPClientResponse.self)
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHTTPClientHandlers()
                        try sync.addHandler(ResponseCollector(promise: promise))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            promise.fail(error) // never leave the promise pending
            throw error
        }
        let seconds = Double(timeout.nanoseconds) / 1e9
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(HTTPClientError.timedOut(seconds: seconds))
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
        headers.add(name: "Connection", value: "close")
        for (name, value) in extraHeaders.sorted(by: { $0.key < $1.key }) { headers.add(name: name, value: value) }
        if !body.isEmpty { headers.add(name: "Content-Length", value: "\(body.count)") }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if !body.isEmpty { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let response = try await promise.futureResult.get()
        channel.close(promise: nil)
        return response
    }

    final class ResponseCollector: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<HTTPClientResponse>
        var status = 0
        var body: [UInt8] = []
        var completed = false

        init(promise: EventLoopPromise<HTTPClientResponse>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !completed else { return }
            switch unwrapInboundIn(data) {
            case .head(let head):
                status = Int(head.status.code)
            case .body(let chunk):
                body.append(contentsOf: chunk.readableBytesView)
                if body.count > HTTPClient.maximumResponseBytes {
                    finish(.failure(HTTPClientError.responseTooLarge(limit: HTTPClient.maximumResponseBytes)), context: context)
                }
            case .end:
                finish(.success(HTTPClientResponse(status: status, body: body)), context: context)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            finish(.failure(HTTPClientError.closedBeforeResponse), context: context)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            finish(.failure(error), context: context)
        }

        private func finish(_ result: Result<HTTPClientResponse, Error>, context: ChannelHandlerContext) {
            guard !completed else { return }
            completed = true
            promise.completeWith(result)
            context.close(promise: nil)
        }
    }
}

/// A listen address from the command line or a config file: `HOST:PORT`, `[V6]:PORT`, `:PORT`
/// (loopback) or `off`.
public enum HTTPListenAddress: Equatable, Sendable {
    case off
    case address(host: String, port: Int)

    public static let defaultValue = HTTPListenAddress.address(host: "127.0.0.1", port: 55580)

    /// Parses `text`; the error names what is wrong.
    public static func parse(_ text: String) throws(HTTPListenAddressError) -> HTTPListenAddress {
        if text == "off" { return .off }
        guard let colon = text.lastIndex(of: ":") else { throw HTTPListenAddressError(text, "expected HOST:PORT or off") }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw HTTPListenAddressError(text, "the port must be a number between 0 and 65535")
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "127.0.0.1" }
        guard !host.contains(" ") else { throw HTTPListenAddressError(text, "the host contains a space") }
        return .address(host: host, port: port)
    }

    /// The address to connect to for this listener (a wildcard listener is reached on loopback).
    public var connectHost: String? {
        guard case .address(let host, _) = self else { return nil }
        switch host {
        case "0.0.0.0": return "127.0.0.1"
        case "::": return "::1"
        default: return host
        }
    }
}

/// A bad `--http` value.
public struct HTTPListenAddressError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ text: String, _ problem: String) { description = "'\(text)': \(problem)" }
}
