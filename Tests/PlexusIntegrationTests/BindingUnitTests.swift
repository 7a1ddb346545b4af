import DequeModule
import NIOCore
@testable import Plexus
import XCTest

/// Pure parts of the binding: argument validation and the byte-capped hand-off queue.
final class BindingUnitTests: XCTestCase {
    func testTimeoutsAreTruncatedToWholeMilliseconds() throws {
        XCTAssertEqual(try Validate.milliseconds(.microseconds(12_500)), 12)
        XCTAssertEqual(try Validate.milliseconds(.milliseconds(1)), 1)
        XCTAssertEqual(try Validate.milliseconds(.seconds(1)), 1000)
        XCTAssertEqual(try Validate.milliseconds(.milliseconds(2_147_483_647)), 2_147_483_647)
        XCTAssertThrowsError(try Validate.milliseconds(.microseconds(999)))
        XCTAssertThrowsError(try Validate.milliseconds(.zero))
        XCTAssertThrowsError(try Validate.milliseconds(.milliseconds(-5)))
        XCTAssertThrowsError(try Validate.milliseconds(.milliseconds(2_147_483_648)))
    }

    func testQueueAcceptsWithPlainLessOrEqualAndCountsOnlyWaitingBytes() async {
        let queue = WorkQueue<Int>(limitBytes: 3)
        XCTAssertTrue(queue.offer(1, bytes: 2))
        XCTAssertTrue(queue.offer(2, bytes: 1))      // 2 + 1 ≤ 3
        XCTAssertFalse(queue.offer(3, bytes: 1))     // 3 + 1 > 3: dropped
        XCTAssertEqual(queue.queuedBytes, 3)
        let first = await queue.take()
        XCTAssertEqual(first, 1)                     // FIFO
        XCTAssertEqual(queue.queuedBytes, 1)         // bytes leave when taken
        XCTAssertTrue(queue.offer(4, bytes: 2))
        let second = await queue.take(), third = await queue.take()
        XCTAssertEqual([second, third], [2, 4])
        XCTAssertFalse(queue.offer(5, bytes: 4))     // larger than the limit: never accepted
    }

    func testDeferredWakeHandsItemsToWaitingConsumers() async {
        let queue = WorkQueue<Int>(limitBytes: 100)
        let consumer = Task { () -> [Int] in
            var got: [Int] = []
            while let item = await queue.take() { got.append(item) }
            return got
        }
        // Wait (bounded) until the consumer waits, then enqueue a burst and wake once. (The test
        // used to enqueue and take back its own item until the consumer waited; when the consumer
        // took that item first, the test's own take waited forever.)
        let waiting = await poll(within: .seconds(5)) { queue.waitingConsumers == 1 }
        guard waiting else { return XCTFail("consumer never waited") }
        let result = queue.enqueue(1, bytes: 1)
        guard case .wakeDue = result else { return XCTFail("first item did not ask for a wake: \(result)") }
        guard case .queued = queue.enqueue(2, bytes: 1) else { return XCTFail("second wake requested") }
        queue.wake()
        let done = await poll(within: .seconds(5)) { queue.queuedBytes == 0 }
        XCTAssertTrue(done)
        queue.finish()
        let got = await consumer.value
        XCTAssertEqual(got, [1, 2])
        XCTAssertFalse(queue.offer(3, bytes: 1))     // finished
    }

    func testBatchTakeTakesUpToTheLimitInOrderAndFreesTheirBytes() async {
        let queue = WorkQueue<Int>(limitBytes: 100)
        for item in 1...5 { XCTAssertTrue(queue.offer(item, bytes: 10)) }
        var batch = Deque<Int>()
        let first = await queue.take(upTo: 3, into: &batch)
        XCTAssertTrue(first)
        XCTAssertEqual(Array(batch), [1, 2, 3])
        XCTAssertEqual(queue.queuedBytes, 20)          // taken items leave the count at once
        let second = await queue.take(upTo: 3, into: &batch)
        XCTAssertTrue(second)
        XCTAssertEqual(Array(batch), [1, 2, 3, 4, 5])  // appended behind what the caller holds
        XCTAssertEqual(queue.queuedBytes, 0)
        queue.finish()
        XCTAssertTrue(queue.isFinished)
        let third = await queue.take(upTo: 3, into: &batch)
        XCTAssertFalse(third)
        XCTAssertEqual(batch.count, 5)                 // nothing appended at the end
    }

    func testBatchTakeWaitsForAnItem() async {
        let queue = WorkQueue<Int>(limitBytes: 100)
        let consumer = Task { () -> [Int] in
            var batch = Deque<Int>()
            _ = await queue.take(upTo: 8, into: &batch)
            return Array(batch)
        }
        let waiting = await poll(within: .seconds(5)) { queue.waitingConsumers == 1 }
        guard waiting else { return XCTFail("consumer never waited") }
        XCTAssertTrue(queue.offer(7, bytes: 1))
        let got = await consumer.value
        XCTAssertEqual(got, [7])
    }

    func testCancelledConsumerReturnsNil() async {
        let queue = WorkQueue<Int>(limitBytes: 100)
        let consumer = Task { await queue.take() }
        try? await Task.sleep(for: .milliseconds(20))
        consumer.cancel()
        let value = await consumer.value
        XCTAssertNil(value)
    }

    func testFaultTextOfHandlerErrors() {
        XCTAssertEqual(PlexusError.faultText(for: ServiceFault("failure 1")), "failure 1")
        XCTAssertEqual(PlexusError.faultText(for: PlexusError.remoteFault("boom")), "boom")
        struct Custom: Error, CustomStringConvertible { var description: String { "custom text" } }
        XCTAssertEqual(PlexusError.faultText(for: Custom()), "custom text")
    }
}
