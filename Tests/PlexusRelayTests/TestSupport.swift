import NIOCore
@testable import PlexusRelay
import PlexusWire
import XCTest
