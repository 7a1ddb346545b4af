import Logging
import NIOCore
import PlexusTestSupport
import NIOPosix
import PlexusRelay
import PlexusWire
import XCTest

/// Base class: one relay on an ephemeral port per test, and a client event loop group.
class LoopbackTestCase: XCTestCase {
    var server: RelayServer!
    var group: MultiThreadedEventLoopGroup!
    var clients: [RawClient] = []

    func configuration() -> RelayConfiguration {
        var configuration = RelayConfiguration()
        configuration.port = 0
        return configuration
    }

    override func setUp() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var logger = Logger(label: "test-relay")
        logger.logLevel = .warning
        server = try await RelayServer.start(configuration: configuration(), logger: logger)
    }

    override func tearDown() async throws {
        for client in clients { client.close() }
        clients = []
        await server.shutdown()
        try await group.shutdownGracefully()
    }

    func connect(receiveBuffer: Int? = nil, autoRead: Bool = true) throws -> RawClient {
        let client = try RawClient.connect(port: server.port, group: group, receiveBuffer: receiveBuffer, autoRead: autoRead)
        clients.append(client)
        return client
    }

    func handshake(cluster: String?, autoRead: Bool = true, receiveBuffer: Int? = nil) throws -> RawClient {
        let client = try RawClient.handshake(port: server.port, group: group, cluster: cluster,
                                             autoRead: autoRead, receiveBuffer: receiveBuffer)
        clients.append(client)
        return client
    }
}

/// Spec §15, byte for byte, over real loopback TCP.
final class LoopbackExampleTests: LoopbackTestCase {
    let accept = "00 10 69 72 69 73 2d 72 65 6c 61 79 2d 6d 61 67 69 63 0b 76 31 2e 30 2d 64 72 61 66 74 32"
    let serviceInit = """
        00 11 69 72 69 73 2d 63 6c 69 65 6e 74 2d 6d 61 67 69 63 0b 76 31 2e 30 2d 64 72 61 66 74 32
        04 65 63 68 6f
        """
    let clientInit = "00 11 69 72 69 73 2d 63 6c 69 65 6e 74 2d 6d 61 67 69 63 0b 76 31 2e 30 2d 64 72 61 66 74 32 00"

    func testBindsBothLoopbackAddresses() async throws {
        XCTAssertGreaterThan(server.port, 0)
        XCTAssertTrue(server.boundAddresses.contains("127.0.0.1:\(server.port)"), "\(server.boundAddresses)")
    }

    func testInvalidConfigurationIsRejected() async throws {
        var configuration = RelayConfiguration()
        configuration.port = 0
        configuration.tunnelWindow = 100
        do {
            let relay = try await RelayServer.start(configuration: configuration, logger: Logger(label: "bad"))
            await relay.shutdown()
            XCTFail("a window smaller than the chunk limit must be rejected")
        } catch is RelayConfigurationError {}
    }

    func testWorkedExampleRequestReply() throws {
        let service = try connect()
        service.send(bytes: hexBytes(serviceInit))
        XCTAssertEqual(try service.read(30), hexBytes(accept))
        let client = try connect()
        client.send(bytes: hexBytes(clientInit))
        XCTAssertEqual(try client.read(30), hexBytes(accept))

        client.send(bytes: hexBytes("04 01 04 65 63 68 6f 02 68 69 e8 07"))
        XCTAssertEqual(try service.read(7), hexBytes("04 00 02 68 69 e8 07"))
        service.send(bytes: hexBytes("05 00 01 02 68 69"))
        XCTAssertEqual(try client.read(7), hexBytes("05 01 00 01 02 68 69"))

        // Fault outcome, relay id 1 this time.
        client.send(bytes: hexBytes("04 02 04 65 63 68 6f 02 68 69 e8 07"))
        XCTAssertEqual(try service.read(7), hexBytes("04 01 02 68 69 e8 07"))
        service.send(bytes: hexBytes("05 01 00 04 6f 6f 70 73"))
        XCTAssertEqual(try client.read(9), hexBytes("05 02 00 00 04 6f 6f 70 73"))

        // Graceful close: client sends 02, relay answers 02 00 and closes.
        client.send(bytes: [0x02])
        XCTAssertEqual(try client.waitForClose(), [0x02, 0x00])
        service.send(bytes: [0x02])
        XCTAssertEqual(try service.waitForClose(), [0x02, 0x00])
    }

    func testWorkedExampleDeny() throws {
        let client = try connect()
        client.send(bytes: hexBytes("""
            00 11 69 72 69 73 2d 63 6c 69 65 6e 74 2d 6d 61 67 69 63 0b 76 31 2e 30 2d 64 72 61 66 74 31 00
            """))
        let expected = hexBytes("""
            01 10 69 72 69 73 2d 72 65 6c 61 79 2d 6d 61 67 69 63
            3d 55 6e 73 75 70 70 6f 72 74 65 64 20 70 72 6f 74 6f 63 6f 6c 2e 20 43 6c 69 65 6e 74 3a 20
            76 31 2e 30 2d 64 72 61 66 74 31 2e 20 49 72 69 73 3a 20 76 31 2e 30 2d 64 72 61 66 74 32 2e
            """)
        XCTAssertEqual(try client.waitForClose(), expected)
    }

    func testWorkedExampleTunnel() throws {
        let service = try connect()
        service.send(bytes: hexBytes(serviceInit))
        XCTAssertEqual(try service.read(30), hexBytes(accept))
        let client = try connect()
        client.send(bytes: hexBytes(clientInit))
        XCTAssertEqual(try client.read(30), hexBytes(accept))

        client.send(bytes: hexBytes("09 00 04 65 63 68 6f e8 07"))
        XCTAssertEqual(try service.read(5), hexBytes("09 00 80 80 04"))
        service.send(bytes: hexBytes("0a 00 01  0b 01 80 80 80 20"))
        XCTAssertEqual(try service.read(6), hexBytes("0b 01 80 80 80 02"))
        XCTAssertEqual(try client.read(6), hexBytes("0a 00 00 80 80 04"))
        XCTAssertEqual(try client.read(6), hexBytes("0b 00 80 80 80 02"))
        client.send(bytes: hexBytes("0b 00 80 80 80 20"))
        client.send(bytes: hexBytes("0c 00 02 02 68 69"))
        XCTAssertEqual(try service.read(6), hexBytes("0c 01 02 02 68 69"))
        XCTAssertEqual(try client.read(3), hexBytes("0b 00 02"))
        service.send(bytes: hexBytes("0b 01 02"))
        client.send(bytes: hexBytes("0d 00"))
        XCTAssertEqual(try client.read(3), hexBytes("0d 00 00"))
        XCTAssertEqual(try service.read(3), hexBytes("0d 01 00"))

        // A timed-out construction: no member in "none".
        client.send(bytes: hexBytes("09 05 04 6e 6f 6e 65 0a"))
        XCTAssertEqual(try client.read(3), hexBytes("0a 05 01"))
    }
}
