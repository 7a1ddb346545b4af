import Foundation
import NIOCore
import PlexusTestSupport
import NIOPosix
import PlexusRelay
import PlexusWire
import XCTest

struct TestTimeout: Error, CustomStringConvertible {
    var description: String
}

/// Bytes received by a raw test client. All state is guarded by `condition`, and every access
/// goes through `withLock`/`wait`, so sharing it between the client's event loop and the test
/// thread is safe (hence the justified `@unchecked Sendable`).
final class ByteSink: @unchecked Sendable {
    private let condition = NSCondition()
    private var bytes = ByteBuffer()
    private var closed = false

    func append(_ buffer: ByteBuffer) {
        condition.lock()
        var buffer = buffer
        bytes.writeBuffer(&buffer)
        condition.broadcast()
        condition.unlock()
    }

    func markClosed() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits (bounded) until `body` returns non-nil; `body` runs under the lock.
    func wait<T>(timeout: TimeInterval, _ what: String, _ body: (inout ByteBuffer, Bool) throws -> T?) throws -> T {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let value = try body(&bytes, closed) { return value }
            guard condition.wait(until: deadline) else {
                if let value = try body(&bytes, closed) { return value }
                throw TestTimeout(description: "timed out after \(timeout) s waiting for \(what)")
            }
        }
    }
}

private final class CollectingHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let sink: ByteSink
    init(sink: ByteSink) { self.sink = sink }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        sink.append(unwrapInboundIn(data))
    }
    func channelInactive(context: ChannelHandlerContext) {
        sink.markClosed()
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// A test client speaking raw bytes to the relay over loopback TCP.
final class RawClient: Sendable {
    let channel: Channel
    let sink: ByteSink

    private init(channel: Channel, sink: ByteSink) {
        self.channel = channel
        self.sink = sink
    }

    static func connect(port: Int, group: EventLoopGroup, host: String = "127.0.0.1",
                        receiveBuffer: Int? = nil, autoRead: Bool = true) throws -> RawClient {
        let sink = ByteSink()
        var bootstrap = ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.autoRead, value: autoRead)
            .connectTimeout(.seconds(5))
        if let receiveBuffer {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer))
        }
        let channel = try bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(CollectingHandler(sink: sink))
            }
        }.connect(host: host, port: port).wait()
        return RawClient(channel: channel, sink: sink)
    }

    /// Connects and completes the handshake; `cluster` nil = plain client.
    static func handshake(port: Int, group: EventLoopGroup, cluster: String?, autoRead: Bool = true,
                          receiveBuffer: Int? = nil) throws -> RawClient {
        let client = try connect(port: port, group: group, receiveBuffer: receiveBuffer, autoRead: autoRead)
        client.send(.initiate(version: ByteBuffer(string: WireConstants.protocolVersion), cluster: ByteBuffer(string: cluster ?? "")))
        if !autoRead { client.channel.read() }
        let answer = try client.readPacket()
        guard case .accept = answer else { throw TestTimeout(description: "handshake answered \(answer)") }
        return client
    }

    func send(bytes: [UInt8]) {
        channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
    }

    func send(_ packets: ClientPacket...) {
        var buffer = ByteBuffer()
        for packet in packets { buffer.writeClientPacket(packet) }
        channel.writeAndFlush(buffer, promise: nil)
    }

    func send(encoded buffer: ByteBuffer) {
        channel.writeAndFlush(buffer, promise: nil)
    }

    /// Reads exactly `count` bytes.
    func read(_ count: Int, timeout: TimeInterval = 5) throws -> [UInt8] {
        try sink.wait(timeout: timeout, "\(count) bytes") { buffer, closed in
            if buffer.readableBytes >= count { return buffer.readBytes(length: count)! }
            if closed { throw TestTimeout(description: "closed with \(buffer.readableBytes) of \(count) bytes") }
            return nil
        }
    }

    /// Reads one R→C packet.
    func readPacket(timeout: TimeInterval = 5) throws -> RelayPacket {
        try sink.wait(timeout: timeout, "a packet") { buffer, closed in
            if let packet = try RelayPacket.decode(from: &buffer) { return packet }
            if closed { throw TestTimeout(description: "connection closed while waiting for a packet") }
            return nil
        }
    }

    /// Reads `count` R→C packets, decoding everything available at each wake-up.
    func readPackets(_ count: Int, timeout: TimeInterval = 10) throws -> [RelayPacket] {
        var packets: [RelayPacket] = []
        packets.reserveCapacity(count)
        return try sink.wait(timeout: timeout, "\(count) packets") { buffer, closed in
            while packets.count < count, let packet = try RelayPacket.decode(from: &buffer) { packets.append(packet) }
            if packets.count == count { return packets }
            if closed { throw TestTimeout(description: "closed after \(packets.count) of \(count) packets") }
            return nil
        }
    }

    /// Waits until the relay closed the connection; returns the bytes that were still unread.
    @discardableResult
    func waitForClose(timeout: TimeInterval = 5) throws -> [UInt8] {
        try sink.wait(timeout: timeout, "the connection to close") { buffer, closed in
            closed ? buffer.readBytes(length: buffer.readableBytes)! : nil
        }
    }

    func close() {
        try? channel.close().wait()
    }
}
