import NIOCore

/// A `ByteToMessageDecoder` that turns a relay's inbound byte stream into `ClientPacket`s.
///
/// Accepts input split at any byte. A malformed packet throws a `WireError` down the pipeline;
/// packets decoded before it have already been passed on.
public struct ClientPacketDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = ClientPacket
    public let limits: WireLimits

    public init(limits: WireLimits = .default) {
        self.limits = limits
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let packet = try ClientPacket.decode(from: &buffer, limits: limits) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(packet))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// A `ByteToMessageDecoder` that turns a binding's inbound byte stream into `RelayPacket`s.
///
/// Accepts input split at any byte. A malformed packet throws a `WireError` down the pipeline.
public struct RelayPacketDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = RelayPacket
    public let limits: WireLimits

    public init(limits: WireLimits = .default) {
        self.limits = limits
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let packet = try RelayPacket.decode(from: &buffer, limits: limits) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(packet))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}
