// plexus-example-worker-pool [WORKERS] [JOBS]: load balancing. Starts WORKERS services in
// cluster "workers" (each runs one job at a time), sends JOBS requests at once, and prints
// how many jobs each worker did: the relay spreads requests over the members.
import PlexusExampleSupport
import NIOConcurrencyHelpers
import NIOCore
import Plexus

/// A worker: "works" 20 ms per job and counts its jobs.
final class Worker: ServiceHandler {
    let name: String
    private let jobs = NIOLockedValueBox(0)
    init(name: String) { self.name = name }
    var count: Int { jobs.withLockedValue { $0 } }

    func handleRequest(_ request: ByteBuffer) async throws -> ByteBuffer {
        jobs.withLockedValue { $0 += 1 }
        try await Task.sleep(for: .milliseconds(20))  // the job
        return ByteBuffer(string: "\(name) did \(String(buffer: request))")
    }
}

let options = ExampleOptions()
let workerCount = options.arguments.first.flatMap(Int.init) ?? 4
let jobCount = options.arguments.dropFirst().first.flatMap(Int.init) ?? 200

var workers: [Worker] = []
var services: [Connection] = []
for index in 0..<workerCount {
    let worker = Worker(name: "worker-\(index)")
    workers.append(worker)
    services.append(try await Connection.register(
        cluster: "workers", handler: worker, limits: .init(requestConcurrency: 1), host: options.host, port: options.port))
}
let client = try await Connection.connect(host: options.host, port: options.port)
let clock = ContinuousClock()
let start = clock.now
let failures = try await withThrowingTaskGroup(of: Bool.self) { group in
    for job in 0..<jobCount {
        group.addTask { (try? await client.request("job \(job)", to: "workers", timeout: .seconds(30))) == nil }
    }
    var failed = 0
    for try await didFail in group where didFail { failed += 1 }
    return failed
}
print("\(jobCount) jobs in \(clock.now - start) (\(failures) failed); one worker alone would need \(jobCount * 20) ms")
for worker in workers { print("  \(worker.name): \(worker.count) jobs") }
try await client.close()
for service in services { try await service.close() }
