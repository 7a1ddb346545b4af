import NIOCore

/// A packet type of one direction of relay protocol v1 that can be decoded incrementally.
public protocol DecodableWirePacket: Sendable {
    /// Decodes one packet from the front of `buffer`, or returns `nil` (consuming nothing) when the
    /// buffer does not yet hold a whole packet.
    static func decode(from buffer: inout ByteBuffer, limits: WireLimits) throws(WireError) -> Self?
}

extension ClientPacket: DecodableWirePacket {}
extension RelayPacket: DecodableWirePacket {}

/// A `ByteToMessageDecoder` that turns an inbound byte stream into packets of one direction.
///
/// Accepts input split at any byte. A malformed packet throws a `WireError` down the pipeline;
/// packets decoded before it have already been passed on.
public struct WirePacketDecoder<Packet: DecodableWirePacket>: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = Packet
    public let limits: WireLimits

    public init(limits: WireLimits = .default) {
        self.limits = limits
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let packet = try Packet.decode(from: &buffer, limits: limits) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(packet))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// Decodes a relay's inbound stream (client → relay packets).
public typealias ClientPacketDecoder = WirePacketDecoder<ClientPacket>
/// Decodes a binding's inbound stream (relay → client packets).
public typealias RelayPacketDecoder = WirePacketDecoder<RelayPacket>
