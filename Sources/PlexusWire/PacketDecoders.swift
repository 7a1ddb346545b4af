import NIOCore

// The two decoders are deliberately concrete rather than one generic type: a generic decoder is
// not specialized across modules and cost about 10 % of pub/sub throughput (Docs/benchmarks.md).

/// Decodes a relay's inbound stream (client → relay packets), accepting input split at any byte.
/// A malformed packet throws a `WireError`; packets decoded before it have already been passed on.
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

/// Decodes a binding's inbound stream (relay → client packets), accepting input split at any byte.
/// A malformed packet throws a `WireError`; packets decoded before it have already been passed on.
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
