@testable import Plexus
import XCTest

/// A `Connection`'s lifetime decisions without sockets: the pure `Supervision` that
/// `ConnectionSupervisor` carries out.
final class SupervisionTests: XCTestCase {
    private struct FakeSession: SupervisedSession, Equatable {
        var generation: UInt64
    }

    private final class Queue {}

    private typealias Subject = Supervision<FakeSession, Queue>

    private func connected(reconnects: Bool = true) -> Subject {
        var supervision = Subject(reconnects: reconnects)
        XCTAssertNotNil(supervision.install(FakeSession(generation: 1), alreadyEnded: false))
        return supervision
    }

    func testALostSessionIsReplacedAndCallsFailFastMeanwhile() throws {
        var s = connected()
        XCTAssertEqual(try s.current.get(), FakeSession(generation: 1))
        XCTAssertEqual(s.sessionEnded(generation: 1, error: .connectionLost(reason: "eof"), byLocalClose: false), .reconnect(reason: "eof"))
        XCTAssertEqual(s.state, .reconnecting)
        XCTAssertThrowsError(try s.current.get()) { XCTAssertEqual($0 as? PlexusError, .connectionLost(reason: "eof; reconnecting")) }
        XCTAssertEqual(s.sessionEnded(generation: 1, error: .connectionLost(reason: "again"), byLocalClose: false), .ignore,
                       "an end reported twice counts once")
        XCTAssertNotNil(s.install(FakeSession(generation: 2), alreadyEnded: false))
        XCTAssertEqual(s.state, .connected)
        XCTAssertEqual(s.sessionEnded(generation: 1, error: .connectionLost(reason: "stale"), byLocalClose: false), .ignore)
        XCTAssertNil(s.session(ofGeneration: 1), "a reply of the lost session goes nowhere")
        XCTAssertEqual(s.session(ofGeneration: 2), FakeSession(generation: 2))
    }

    func testASessionThatEndedBeforeItsInstallIsRefused() {
        var s = Subject(reconnects: true)
        XCTAssertNil(s.install(FakeSession(generation: 1), alreadyEnded: true))
        XCTAssertEqual(s.state, .reconnecting)
        _ = s.install(FakeSession(generation: 2), alreadyEnded: false)
        XCTAssertNil(s.install(FakeSession(generation: 3), alreadyEnded: false), "one current session at a time")
    }

    func testWithoutReconnectALossEndsEverything() {
        var s = connected(reconnects: false)
        let queue = Queue()
        _ = s.subscribe("t", queue: queue)
        XCTAssertEqual(s.sessionEnded(generation: 1, error: .connectionLost(reason: "eof"), byLocalClose: false),
                       .end(.connectionLost(reason: "eof"), lostReason: "eof"))
        XCTAssertEqual(s.state, .closed(error: .connectionLost(reason: "eof")))
        XCTAssertTrue(s.takeSubscriptions().first === queue)
        XCTAssertThrowsError(try s.subscribe("u", queue: Queue()).get())
    }

    func testGivingUpAndClosingStopReconnects() {
        var s = connected()
        _ = s.sessionEnded(generation: 1, error: .connectionLost(reason: "eof"), byLocalClose: false)
        XCTAssertEqual(s.giveUp(reason: "gave up"), .connectionLost(reason: "gave up"))
        XCTAssertNil(s.giveUp(reason: "twice"))
        guard case .already(.connectionLost?) = s.close() else { return XCTFail("close after giving up reports why") }

        var closing = connected()
        guard case .closeSession(let session) = closing.close() else { return XCTFail() }
        XCTAssertEqual(session.generation, 1)
        // Whatever ends the session now ends the connection: no reconnect after close().
        XCTAssertEqual(closing.sessionEnded(generation: 1, error: .connectionLost(reason: "eof"), byLocalClose: false),
                       .end(.connectionLost(reason: "eof"), lostReason: "eof"))
        XCTAssertNil(closing.install(FakeSession(generation: 2), alreadyEnded: false))

        var graceful = connected()
        _ = graceful.close()
        XCTAssertEqual(graceful.sessionEnded(generation: 1, error: .closed(reason: "connection closed"), byLocalClose: true),
                       .end(nil, lostReason: nil))
        XCTAssertEqual(graceful.state, .closed(error: nil))

        var reconnecting = connected()
        _ = reconnecting.sessionEnded(generation: 1, error: .connectionLost(reason: "eof"), byLocalClose: false)
        guard case .finish = reconnecting.close() else { return XCTFail("close while reconnecting just ends") }
        XCTAssertNil(reconnecting.install(FakeSession(generation: 2), alreadyEnded: false), "a reconnect in flight is refused")
    }

    func testReleaseEndsAtOnce() {
        var s = connected()
        guard case .abandon(let session) = s.abandon() else { return XCTFail() }
        XCTAssertEqual(session.generation, 1)
        XCTAssertEqual(s.state, .closed(error: nil))
        guard case .nothing = s.abandon() else { return XCTFail("once") }
    }

    func testSubscriptionsSurviveAndUnsubscribeMatchesTheQueue() throws {
        var s = connected()
        let first = Queue()
        XCTAssertEqual(try s.subscribe("t", queue: first).get(), FakeSession(generation: 1), "sent now")
        XCTAssertThrowsError(try s.subscribe("t", queue: Queue()).get()) {
            XCTAssertEqual($0 as? PlexusError, .invalidArgument("already subscribed to t"))
        }
        _ = s.sessionEnded(generation: 1, error: .connectionLost(reason: "eof"), byLocalClose: false)
        let later = Queue()
        XCTAssertNil(try s.subscribe("later", queue: later).get(), "recorded while reconnecting, sent on restore")
        let restore = try XCTUnwrap(s.install(FakeSession(generation: 2), alreadyEnded: false))
        XCTAssertEqual(Set(restore.keys), ["t", "later"])
        // Unsubscribing with a queue that is no longer the topic's does nothing.
        XCTAssertThrowsError(try s.unsubscribe("t", expected: Queue()).get())
        let (queue, session) = try s.unsubscribe("t", expected: first).get()
        XCTAssertTrue(queue === first)
        XCTAssertEqual(session, FakeSession(generation: 2))
        XCTAssertThrowsError(try s.unsubscribe("t", expected: nil).get()) {
            XCTAssertEqual($0 as? PlexusError, .invalidArgument("not subscribed to t"))
        }
    }
}
