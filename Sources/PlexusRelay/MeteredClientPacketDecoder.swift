import NIOCore
import PlexusWire

/// `ClientPacketDecoder` that also says how many bytes of an unfinished packet it holds, so the
/// relay can keep all connections within one input budget (`RelayConfiguration.inputBudgetBytes`).
///
/// To stay off the hot path it reports only changes, and counts a partial packet only from
/// `reportingFloor` bytes on (smaller ones are the normal tail of a read and cost nothing to hold).
struct MeteredClientPacketDecoder: ByteToMessageDecoder {
    typealias InboundOut = ClientPacket

    /// Partial packets below this size are reported as 0.
    static let reportingFloor = 64 * 1024

    let limits: WireLimits
    /// Called on the connection's event loop with the bytes now held.
    let report: (Int) -> Void
    private var lastReported = 0

    init(limits: WireLimits, report: @escaping (Int) -> Void) {
        self.limits = limits
        self.report = report
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let packet = try ClientPacket.decode(from: &buffer, limits: limits)
        let held = buffer.readableBytes >= Self.reportingFloor ? buffer.readableBytes : 0
        if held != lastReported {
            lastReported = held
            report(held)
        }
        guard let packet else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(packet))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}
