import NIOCore
import PlexusFederation
import PlexusPeerWire
import PlexusVocabulary
import XCTest

/// `GatewayRouter` on virtual time: one gateway of overlay "home" with links to "eu" and "us".
final class GatewayRouterTests: XCTestCase {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let home = OverlayName("home")!
    let euLink = GatewayLinkID(1)
    let euLink2 = GatewayLinkID(2)
    let usLink = GatewayLinkID(3)

    func makeRouter(queueLimit: Int = 8 * 1024 * 1024) -> GatewayRouter {
        var settings = GatewayRouterSettings(overlay: home, gateway: NodeID(high: 0, low: 1))
        settings.linkQueueLimitBytes = queueLimit
        return GatewayRouter(settings: settings)
    }

    /// Opens `link` to `overlay`, which announces `clusters` and `topics`.
    func open(_ router: inout GatewayRouter, _ link: GatewayLinkID, to overlay: OverlayName,
              clusters: [String] = [], topics: [String] = []) {
        let sent = router.linkOpened(link, now: start)
        XCTAssertEqual(sent.count, 2)
        guard case .send(_, .hello(1, home, _))? = sent.first else { return XCTFail("HELLO first: \(sent)") }
        guard case .send(_, .interest(let full))? = sent.last, full.kind == .full else { return XCTFail("full interest: \(sent)") }
        XCTAssertEqual(router.receive(.hello(version: 1, overlay: overlay, gateway: NodeID(high: 9, low: link.value)), on: link, now: start), [])
        let changes = clusters.map { GatewayInterest.Change.addCluster($0) } + topics.map { .addTopic($0) }
        let actions = router.receive(.interest(GatewayInterest(version: 1, kind: .full, changes: changes)), on: link, now: start)
        XCTAssertEqual(actions, changes.isEmpty ? [] : [.remoteInterestChanged])
        router.written(100, on: link) // the HELLO and interest were written
    }

    func sentLinks(_ actions: [GatewayAction]) -> [GatewayLinkID] {
        actions.compactMap { if case .send(let link, _) = $0 { return link } else { return nil } }
    }

    func testNothingButHelloBeforeHelloAndSameOverlayRefused() {
        var router = makeRouter()
        _ = router.linkOpened(euLink, now: start)
        XCTAssertEqual(router.receive(.ping(nonce: 1), on: euLink, now: start),
                       [.close(euLink, reason: "first gateway frame was not HELLO")])
        _ = router.linkOpened(usLink, now: start)
        let actions = router.receive(.hello(version: 1, overlay: home, gateway: NodeID(high: 5, low: 5)), on: usLink, now: start)
        guard case .close(usLink, let reason)? = actions.first else { return XCTFail("\(actions)") }
        XCTAssertTrue(reason.contains("same overlay"), reason)
    }

    func testRequestCrossesToTheOverlayThatServesItAndIsAnsweredOnce() {
        var router = makeRouter()
        open(&router, euLink, to: eu, clusters: ["echo"])
        open(&router, usLink, to: us, clusters: ["db"])
        XCTAssertTrue(router.servesRemotely("echo"))
        XCTAssertFalse(router.servesRemotely("nothing"))

        let result = router.request(cluster: "echo", payload: text("hi"), deadline: start + .milliseconds(1500), ticket: 42, now: start)
        guard case .success(.send(let link, .request(let id, _, let left, _))) = result else { return XCTFail("\(result)") }
        XCTAssertEqual(link, euLink)
        XCTAssertEqual(left, 1500)
        XCTAssertEqual(router.receive(.reply(id: id, outcome: .success(reply: text("ok"))), on: usLink, now: start), [],
                       "a reply from another link is ignored")
        XCTAssertEqual(router.receive(.reply(id: id, outcome: .success(reply: text("ok"))), on: euLink, now: start),
                       [.complete(42, .success(reply: text("ok")))])
        XCTAssertEqual(router.receive(.reply(id: id, outcome: .timedOut), on: euLink, now: start), [], "answered once")
        XCTAssertEqual(router.tick(now: start + .seconds(5)).filter { if case .complete = $0 { true } else { false } }, [])

        XCTAssertEqual(router.request(cluster: "nothing", payload: text("x"), deadline: start + .seconds(1), ticket: 1, now: start),
                       .failure(.noRemoteMember))
        XCTAssertEqual(router.request(cluster: "echo", payload: text("x"), deadline: start, ticket: 1, now: start),
                       .failure(.deadlinePassed))
    }

    func testDeadlineFailsThePendingRequest() {
        var router = makeRouter()
        open(&router, euLink, to: eu, clusters: ["echo"])
        _ = router.request(cluster: "echo", payload: text("hi"), deadline: start + .milliseconds(200), ticket: 7, now: start)
        _ = router.tick(now: start) // the first ping
        XCTAssertEqual(router.nextDeadline, start + .milliseconds(200))
        let early = router.tick(now: start + .milliseconds(199)).filter { if case .complete = $0 { true } else { false } }
        XCTAssertEqual(early, [])
        let late = router.tick(now: start + .milliseconds(200)).filter { if case .complete = $0 { true } else { false } }
        XCTAssertEqual(late, [.complete(7, .timedOut)])
        XCTAssertEqual(router.status.first?.pendingRequests, 0)
    }

    func testLinkLossFailsItsRequestsAtOnceWithdrawsInterestAndFailsOver() {
        var router = makeRouter()
        open(&router, euLink, to: eu, clusters: ["echo"])
        open(&router, euLink2, to: eu, clusters: ["echo"])
        var onFirst: [GatewayTicket] = []
        for ticket in GatewayTicket(1)...4 {
            if case .success(.send(euLink, _)) = router.request(cluster: "echo", payload: text("x"), deadline: start + .seconds(5),
                                                                ticket: ticket, now: start) {
                onFirst.append(ticket)
            }
        }
        XCTAssertEqual(onFirst.count, 2, "spread over both links by pending count")
        let closed = router.linkClosed(euLink, now: start)
        let failed = closed.compactMap { action -> GatewayTicket? in
            guard case .complete(let ticket, .failed(let reason)) = action else { return nil }
            XCTAssertTrue(String(buffer: reason).contains("overlay eu"))
            return ticket
        }
        XCTAssertEqual(failed, onFirst)
        XCTAssertTrue(closed.contains(.remoteInterestChanged))
        let next = router.request(cluster: "echo", payload: text("x"), deadline: start + .seconds(1), ticket: 9, now: start)
        guard case .success(.send(euLink2, _)) = next else { return XCTFail("fails over to the other eu gateway: \(next)") }
        _ = router.linkClosed(euLink2, now: start)
        XCTAssertNil(router.remoteInterest[eu], "the last link to eu is gone: its interest is withdrawn")
        XCTAssertEqual(router.request(cluster: "echo", payload: text("x"), deadline: start + .seconds(1), ticket: 10, now: start),
                       .failure(.noRemoteMember))
    }

    func testBroadcastsAndEventsGoOncePerWantingOverlayAndNeverLoop() {
        var router = makeRouter()
        open(&router, euLink, to: eu, clusters: ["echo"], topics: ["news"])
        open(&router, euLink2, to: eu, clusters: ["echo"], topics: ["news"])
        open(&router, usLink, to: us, clusters: ["echo"])
        let broadcast = router.broadcast(cluster: "echo", message: text("b"), origin: .localOverlay)
        XCTAssertEqual(sentLinks(broadcast), [euLink, usLink], "one link per overlay")
        let event = router.publish(topic: "news", event: text("e"), publisher: sampleNode, origin: .localOverlay)
        XCTAssertEqual(sentLinks(event).count, 1, "only eu wants news, once")
        XCTAssertEqual(router.broadcast(cluster: "echo", message: text("b"), origin: .remoteOverlay(eu)), [], "no loops")
        XCTAssertEqual(router.publish(topic: "news", event: text("e"), publisher: sampleNode, origin: .remoteOverlay(us)), [])
        XCTAssertEqual(router.publish(topic: "sport", event: text("e"), publisher: sampleNode, origin: .localOverlay), [])
    }

    func testIncomingTrafficIsDeliveredLocallyInPublisherOrder() {
        var router = makeRouter()
        open(&router, euLink, to: eu)
        XCTAssertEqual(router.receive(.broadcast(cluster: text("echo"), message: text("b")), on: euLink, now: start),
                       [.deliverBroadcast(from: eu, cluster: text("echo"), message: text("b"))])
        let first = router.receive(.event(topic: text("news"), publisher: sampleNode, sequence: 2, event: text("2")), on: euLink, now: start)
        XCTAssertEqual(first, [.deliverEvent(from: eu, topic: text("news"), event: text("2"))])
        XCTAssertEqual(router.receive(.event(topic: text("news"), publisher: sampleNode, sequence: 1, event: text("1")), on: euLink, now: start), [])
        XCTAssertEqual(router.status.first?.droppedOutOfOrder, 1)

        let request = router.receive(.request(id: 5, cluster: text("echo"), millisecondsLeft: 300, payload: text("q")), on: euLink, now: start)
        XCTAssertEqual(request, [.deliverRequest(euLink, requestID: 5, cluster: text("echo"), millisecondsLeft: 300, payload: text("q"))])
        XCTAssertEqual(router.answer(link: euLink, requestID: 5, outcome: .success(reply: text("a"))),
                       [.send(euLink, .reply(id: 5, outcome: .success(reply: text("a"))))])
        XCTAssertEqual(router.answer(link: euLink, requestID: 5, outcome: .timedOut), [], "answered once")
        XCTAssertEqual(router.receive(.request(id: 6, cluster: text("echo"), millisecondsLeft: 0, payload: text("q")), on: euLink, now: start),
                       [.send(euLink, .reply(id: 6, outcome: .timedOut))], "no time left: timed out at once")
    }

    func testInterestDeltasReachEveryLinkAndOutOfOrderClosesIt() {
        var router = makeRouter()
        open(&router, euLink, to: eu)
        open(&router, usLink, to: us)
        let actions = router.localInterestChanged(clusters: ["echo"], topics: [])
        XCTAssertEqual(sentLinks(actions), [euLink, usLink])
        XCTAssertEqual(router.localInterestChanged(clusters: ["echo"], topics: []), [])
        let bad = router.receive(.interest(GatewayInterest(version: 9, kind: .delta, changes: [])), on: euLink, now: start)
        guard case .close(euLink, _)? = bad.first else { return XCTFail("\(bad)") }
    }

    func testQueuesAreBoundedAndOverloadIsRefusedAndCounted() {
        var router = makeRouter(queueLimit: 1000)
        open(&router, euLink, to: eu, clusters: ["echo"], topics: ["news"])
        let big = ByteBuffer(repeating: 0x61, count: 600)
        guard case .success = router.request(cluster: "echo", payload: big, deadline: start + .seconds(1), ticket: 1, now: start) else {
            return XCTFail("an empty queue takes one frame")
        }
        XCTAssertEqual(router.request(cluster: "echo", payload: big, deadline: start + .seconds(1), ticket: 2, now: start),
                       .failure(.overloaded))
        XCTAssertEqual(router.publish(topic: "news", event: big, publisher: sampleNode, origin: .localOverlay),
                       [.overloaded(euLink, what: "event on news")])
        XCTAssertEqual(router.status.first?.refusedFrames, 2)
        router.written(10_000, on: euLink)
        XCTAssertEqual(router.status.first?.queuedBytes, 0)
        guard case .success = router.request(cluster: "echo", payload: big, deadline: start + .seconds(1), ticket: 3, now: start) else {
            return XCTFail("room again once written")
        }
    }

    func testPingMeasuresRoundTrip() {
        var router = makeRouter()
        open(&router, euLink, to: eu)
        let pings = router.tick(now: start)
        guard case .send(euLink, .ping(let nonce))? = pings.first else { return XCTFail("\(pings)") }
        XCTAssertEqual(router.receive(.pong(nonce: nonce), on: euLink, now: start + .milliseconds(80)), [])
        XCTAssertEqual(router.status.first?.roundTrip, .milliseconds(80))
        XCTAssertEqual(router.receive(.ping(nonce: 77), on: euLink, now: start), [.send(euLink, .pong(nonce: 77))])
    }
}

extension GatewayRouterTests {
    func testFanOutToOneNamedOverlay() {
        var router = makeRouter()
        open(&router, euLink, to: eu, clusters: ["echo"], topics: ["news"])
        open(&router, usLink, to: us, clusters: ["echo"], topics: ["news"])
        XCTAssertEqual(sentLinks(router.broadcast(cluster: "echo", message: text("b"), origin: .localOverlay, only: us)), [usLink])
        XCTAssertEqual(sentLinks(router.publish(topic: "news", event: text("e"), publisher: sampleNode, origin: .localOverlay, only: eu)),
                       [euLink])
    }
}
