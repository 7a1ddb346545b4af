import NIOCore

/// Helpers shared by the test targets: buffers and byte arrays from hex and text, and back.
/// Test-only code; a malformed literal in a test is a bug in the test, so it traps.
extension ByteBuffer {
    /// A buffer from hex digits; whitespace between digits is ignored.
    public init(hex: String) {
        self.init(bytes: hexBytes(hex))
    }

    /// The readable bytes as lower-case hex, separated by spaces.
    public var hexString: String {
        readableBytesView.map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }.joined(separator: " ")
    }
}

/// Bytes from hex digits; whitespace between digits is ignored.
public func hexBytes(_ hex: String) -> [UInt8] {
    let digits = hex.filter { !$0.isWhitespace }
    precondition(digits.count % 2 == 0, "odd hex length")
    var bytes: [UInt8] = []
    bytes.reserveCapacity(digits.count / 2)
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        guard let byte = UInt8(digits[index..<next], radix: 16) else { preconditionFailure("not hex: \(digits[index..<next])") }
        bytes.append(byte)
        index = next
    }
    return bytes
}

/// Bytes as lower-case hex digits without separators.
public func hexDigits(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { byte in
        let text = String(byte, radix: 16)
        return byte < 16 ? "0" + text : text
    }.joined()
}

/// A buffer holding `string` as UTF-8.
public func text(_ string: String) -> ByteBuffer { ByteBuffer(string: string) }
