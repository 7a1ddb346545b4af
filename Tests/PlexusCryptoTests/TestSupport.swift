import Foundation
import XCTest

/// A file vendored in this test target's `Vectors/` folder (see its README for provenance).
func vendoredVector(_ name: String) throws -> URL {
    guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Vectors") else {
        throw MissingVector(name: name)
    }
    return url
}

struct MissingVector: Error, CustomStringConvertible {
    let name: String
    var description: String { "Vectors/\(name) is not among the test target's resources" }
}

func hex(_ string: String) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(string.count / 2)
    var index = string.startIndex
    while index < string.endIndex {
        let next = string.index(index, offsetBy: 2)
        bytes.append(UInt8(string[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

func hexString(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
