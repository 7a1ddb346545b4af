import PlexusFaultBed
import XCTest

/// The counting the load scenarios rely on, on text (no namespaces needed).
final class LoadAuditTests: XCTestCase {
    func testCountsDuplicatesGapsAndOrderPerReceiver() {
        let first = ["READY", "Q d-r-0", "Q d-r-1", "E d-e-0", "E d-e-1", "E d-e-2", "B d-b-0", "B d-b-1", "E x-e-9"].joined(separator: "\n")
        let second = ["Q d-r-1", "E d-e-0", "E d-e-2", "E d-e-1", "E d-e-1", "B d-b-1"].joined(separator: "\n")
        let audit = LoadAudit(members: ["a": first, "b": second], publisher: "d")
        XCTAssertEqual(audit.requestsHandled, 3)
        XCTAssertEqual(audit.requestsHandledTwice, 1, "d-r-1 was handled by both")
        XCTAssertEqual(audit.events["a"], LoadAudit.Stream(received: 3, highest: 2), "another publisher's events are not counted")
        XCTAssertEqual(audit.events["b"], LoadAudit.Stream(received: 4, duplicates: 1, outOfOrder: 2, highest: 2))
        XCTAssertEqual(audit.broadcasts["b"], LoadAudit.Stream(received: 1, highest: 1))
        let gappy = LoadAudit(members: ["c": "E d-e-0\nE d-e-3\nE d-e-4"], publisher: "d")
        XCTAssertEqual(gappy.events["c"]?.gaps, 2)
        XCTAssertEqual(LoadAudit.lastObject(prefix: "FINAL ", in: "S {\"a\":1}\nFINAL {\"a\":2}\n")?["a"] as? Int, 2)
    }
}
