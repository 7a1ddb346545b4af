import Foundation
import XCTest

/// Locates `shared/test-vectors/...` relative to this file: the repository is cloned at
/// `X/main` (or a worktree `X/wt-*`) with the shared material at `X/shared`.
func sharedFile(_ relativePath: String, filePath: String = #filePath) throws -> URL {
    var directory = URL(fileURLWithPath: filePath).deletingLastPathComponent()
    for _ in 0..<6 {
        let candidate = directory.appendingPathComponent("shared").appendingPathComponent(relativePath)
        if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    throw MissingSharedFile(relativePath: relativePath, searchedFrom: filePath)
}

struct MissingSharedFile: Error, CustomStringConvertible {
    let relativePath: String
    let searchedFrom: String
    var description: String {
        "shared/\(relativePath) not found in any ancestor of \(searchedFrom); the repository must sit next to `shared/` (X/main and X/shared)"
    }
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
