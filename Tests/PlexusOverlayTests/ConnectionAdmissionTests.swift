#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOCore
import NIOPosix
import PlexusCrypto
import PlexusMembership
import PlexusOverlay
import PlexusProcesses
import PlexusSession
import XCTest

/// Issue 10, defect 3 (membership-stream listener): the admission state machine on virtual time,
/// the log rate limiter, and the admission on a real overlay listener.
final class ConnectionAdmissionTests: XCTestCase {
    let limits = ConnectionAdmissionLimits(maximumPerSource: 3, maximumTotal: 6, reservedForKnownPeers: 2,
                                           handshakeTimeout: 1_000, maximumAuthenticated: 4)

    func testPerSourceLimitThenTotalLimitWithAReserveForKnownPeers() {
        var admission = ConnectionAdmission(limits: limits)
        var id: UInt64 = 0
        func accept(_ source: String, known: Bool = false) -> ConnectionAdmission.Decision {
            id += 1
            return admission.accepted(id, from: source, isKnownPeer: known, now: 0)
        }
        for _ in 0..<3 { XCTAssertEqual(accept("10.0.0.66"), .admit(handshakeDeadline: 1_000)) }
        XCTAssertEqual(accept("10.0.0.66"), .refuse(.perSourceLimit))
        XCTAssertEqual(admission.unauthenticatedCount(from: "10.0.0.66"), 3)
        XCTAssertEqual(accept("10.0.0.67"), .admit(handshakeDeadline: 1_000))
        // Strangers hold total − reserve = 4 slots: the fifth stranger is refused …
        XCTAssertEqual(accept("10.0.0.68"), .refuse(.totalLimit))
        // … while a known member still gets in, twice (the reserve), then the total is full.
        XCTAssertEqual(accept("10.0.0.1", known: true), .admit(handshakeDeadline: 1_000))
        XCTAssertEqual(accept("10.0.0.2", known: true), .admit(handshakeDeadline: 1_000))
        XCTAssertEqual(accept("10.0.0.3", known: true), .refuse(.totalLimit))
        XCTAssertEqual(admission.unauthenticatedCount, 6)
    }

    func testAuthenticationAndCloseFreeSlotsAndExpiryClosesLaggards() {
        var admission = ConnectionAdmission(limits: limits)
        for id in UInt64(1)...3 { _ = admission.accepted(id, from: "10.0.0.66", isKnownPeer: false, now: Int64(id) * 100) }
        XCTAssertEqual(admission.nextDeadline, 1_100)
        XCTAssertTrue(admission.handshakeCompleted(1))
        admission.closed(2)
        XCTAssertEqual(admission.unauthenticatedCount(from: "10.0.0.66"), 1)
        XCTAssertEqual(admission.authenticatedCount, 1)
        XCTAssertEqual(admission.accepted(4, from: "10.0.0.66", isKnownPeer: false, now: 500), .admit(handshakeDeadline: 1_500))
        XCTAssertEqual(admission.expired(now: 1_299), [])
        XCTAssertEqual(admission.expired(now: 1_300), [3])
        XCTAssertEqual(admission.nextDeadline, 1_500)
        XCTAssertFalse(admission.handshakeCompleted(3), "an expired connection cannot authenticate any more")
        admission.closed(3) // the caller's close arrives later: ignored
        XCTAssertEqual(admission.expired(now: 10_000), [4])
        XCTAssertNil(admission.nextDeadline)
        XCTAssertEqual(admission.unauthenticatedCount, 0)
        admission.closed(1)
        XCTAssertEqual(admission.authenticatedCount, 0)
    }

    func testAuthenticatedLimit() {
        var admission = ConnectionAdmission(limits: limits)
        for id in UInt64(1)...5 {
            _ = admission.accepted(id, from: "10.0.0.\(id)", isKnownPeer: true, now: 0)
        }
        XCTAssertEqual((1...4).map { admission.handshakeCompleted(UInt64($0)) }, [true, true, true, true])
        XCTAssertFalse(admission.handshakeCompleted(5), "over maximumAuthenticated: close it")
        XCTAssertEqual(admission.authenticatedCount, 4)
        XCTAssertEqual(admission.unauthenticatedCount, 0)
    }

    func testLogRateLimiterCountsWhatItSuppresses() {
        var limiter = LogRateLimiter(interval: 1_000, maximumKeys: 2)
        XCTAssertEqual(limiter.admit("refused", now: 0), 0)
        XCTAssertNil(limiter.admit("refused", now: 10))
        XCTAssertNil(limiter.admit("refused", now: 999))
        XCTAssertEqual(limiter.admit("timeout", now: 500), 0, "keys are independent")
        XCTAssertEqual(limiter.admit("refused", now: 1_000), 2, "two lines suppressed since the last one")
        XCTAssertNil(limiter.admit("refused", now: 1_001))
        XCTAssertEqual(limiter.admit("third", now: 0), 0, "beyond maximumKeys: let through, not tracked")
        XCTAssertEqual(limiter.admit("third", now: 1), 0)
    }

    /// The accept backoff (NIO's `AcceptBackoffHandler` provider): 1 s pause, counted, logged at
    /// most once per interval.
    func testAcceptBackoffPausesAcceptingAndIsCounted() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let outcome = try loop.submit { () -> ([TimeAmount?], Int) in
            var logger = Logger(label: "test.admission")
            logger.logLevel = .critical
            let controller = AdmissionController(eventLoop: loop, logger: logger)
            var events = 0
            controller.observer = { event in if event == .acceptBackedOff { events += 1 } }
            let pauses = (0..<3).map { _ in controller.acceptBackoff(after: IOError(errnoCode: EMFILE, reason: "accept")) }
            return (pauses, events)
        }.wait()
        XCTAssertEqual(outcome.0, [.seconds(1), .seconds(1), .seconds(1)])
        XCTAssertEqual(outcome.1, 3)
    }

    /// Real overlay listener on loopback: idle TCP connections (no handshake) from one source are
    /// bounded, counted and closed after the handshake timeout; the listener keeps working.
    func testIdleConnectionsAreBoundedCountedAndTimedOut() async throws {
        var logger = Logger(label: "test.admission")
        logger.logLevel = .error
        let key = NetworkKey.generate()
        var configuration = OverlayConfiguration(identity: .ephemeral(), keyring: Keyring(primary: key), bindHost: "127.0.0.1",
                                                 peerPort: 0, advertiseHost: "127.0.0.1", logger: logger)
        configuration.admissionLimits = ConnectionAdmissionLimits(maximumPerSource: 4, maximumTotal: 8, reservedForKnownPeers: 2,
                                                                  handshakeTimeout: 600)
        let overlay = try await Overlay.start(configuration: configuration)
        let port = Int(overlay.advertisedAddress.port)
        var sockets: [Int32] = []
        defer { for fd in sockets { close(fd) } }
        for _ in 0..<20 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = loopbackAddress(port: port)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            XCTAssertTrue(connected)
            sockets.append(fd)
        }
        var counters = OverlayCounters()
        let deadline = Date().addingTimeInterval(10)
        repeat {
            counters = try await overlay.status().counters
            if counters.connectionsRefusedPerSource >= 16 && counters.handshakesTimedOut >= 4 { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        } while Date() < deadline
        XCTAssertEqual(counters.connectionsRefusedPerSource, 16, "20 idle connections from one source, 4 admitted")
        XCTAssertEqual(counters.handshakesTimedOut, 4, "the admitted ones never authenticated")

        // The listener still takes a real member afterwards.
        var joining = OverlayConfiguration(identity: .ephemeral(), keyring: Keyring(primary: key), bindHost: "127.0.0.1",
                                           peerPort: 0, advertiseHost: "127.0.0.1",
                                           seeds: [overlay.advertisedAddress], logger: logger)
        joining.settings = .lan
        let second = try await Overlay.start(configuration: joining)
        var joined = false
        let joinDeadline = Date().addingTimeInterval(10)
        repeat {
            joined = try await overlay.status().members.filter { $0.state == "alive" }.count == 2
            if joined { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        } while Date() < joinDeadline
        XCTAssertTrue(joined, "a member could not join after the idle connections")
        await second.shutdown()
        await overlay.shutdown()
    }
}
