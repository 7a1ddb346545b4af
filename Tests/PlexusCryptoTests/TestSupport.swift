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
