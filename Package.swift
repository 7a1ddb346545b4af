// swift-tools-version:6.1
import PackageDescription

let nioCore: Target.Dependency = .product(name: "NIOCore", package: "swift-nio")
let nioPosix: Target.Dependency = .product(name: "NIOPosix", package: "swift-nio")
let nioEmbedded: Target.Dependency = .product(name: "NIOEmbedded", package: "swift-nio")
let nioTestUtils: Target.Dependency = .product(name: "NIOTestUtils", package: "swift-nio")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let atomics: Target.Dependency = .product(name: "Atomics", package: "swift-atomics")
let dequeModule: Target.Dependency = .product(name: "DequeModule", package: "swift-collections")
let heapModule: Target.Dependency = .product(name: "HeapModule", package: "swift-collections")

let package = Package(
    name: "Plexus",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Plexus", targets: ["Plexus"]),
        .library(name: "PlexusRelay", targets: ["PlexusRelay"]),
        .library(name: "PlexusRelayCore", targets: ["PlexusRelayCore"]),
        .library(name: "PlexusWire", targets: ["PlexusWire"]),
        .executable(name: "plexus", targets: ["PlexusCLI"]),
        .executable(name: "plexus-bench", targets: ["PlexusBench"]),
        .executable(name: "plexus-crypto-bench", targets: ["PlexusCryptoBench"]),
        .executable(name: "plexus-sim", targets: ["PlexusSim"]),
        .executable(name: "plexus-example-echo-service", targets: ["PlexusExampleEchoService"]),
        .executable(name: "plexus-example-echo-client", targets: ["PlexusExampleEchoClient"]),
        .executable(name: "plexus-example-chat", targets: ["PlexusExampleChat"]),
        .executable(name: "plexus-example-file-transfer", targets: ["PlexusExampleFileTransfer"]),
        .executable(name: "plexus-example-worker-pool", targets: ["PlexusExampleWorkerPool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        // DocC for the `Plexus` binding: `swift package generate-documentation --target Plexus`.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Property-based tests of the limits (PlexusPropertyTests only).
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // The order below is the order a message travels: wire codecs → relay core → overlay
        // (membership, directory) → transports (sessions, peer links, overlay sockets) → node →
        // binding → CLI. Tools (benchmarks, simulator, process tooling, fuzz targets) come last,
        // under Sources/Tools/. Docs/architecture.md draws the map.

        // ── Shared vocabulary and primitives ──
        // libsodium, from Debian's libsodium-dev.
        .systemLibrary(name: "CSodium", path: "Sources/CSodium", pkgConfig: "libsodium",
                       providers: [.apt(["libsodium-dev"])]),
        // The words every module shares: NodeID, Name.
        .target(name: "PlexusVocabulary"),
        // Typed libsodium wrappers: keys, AEAD, hashing, key files, node identity.
        .target(name: "PlexusCrypto", dependencies: ["CSodium", "PlexusVocabulary"]),

        // ── Wire codecs (pure, NIOCore only) ──
        // Client ↔ relay: the Iris relay protocol v1 codec.
        .target(name: "PlexusWire", dependencies: [nioCore]),
        // Relay ↔ relay: peer frames and their batches (Docs/relay-to-relay.md).
        .target(name: "PlexusPeerWire", dependencies: [nioCore]),

        // ── Relay core (pure: events + time in, effects out; no sockets, no clock) ──
        // The relay's decisions: registry, requests, fan-out, tunnels, limits, and the
        // OverlayRouter that routes to other relays through the directory.
        .target(name: "PlexusRelayCore", dependencies: [
            "PlexusVocabulary", "PlexusWire", "PlexusPeerWire", "PlexusMembership", "PlexusTelemetry", nioCore, dequeModule,
            heapModule,
            "PlexusCrypto", // per-cluster keys: claims, sealing (Docs/cluster-keys.md)
        ]),

        // ── Overlay state machines (pure) ──
        // SWIM + Lifeguard membership and the service directory.
        .target(name: "PlexusMembership", dependencies: ["PlexusVocabulary", "PlexusTelemetry"],
                linkerSettings: [.linkedLibrary("m", .when(platforms: [.linux]))]),
        // Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b (and NN, NNpsk0, NNpsk2, XX) as a pure state machine.
        .target(name: "PlexusNoise", dependencies: ["PlexusCrypto"]),

        // ── Transports (thin SwiftNIO shells over the machines above) ──
        // Encrypted relay-to-relay sessions: Noise handshake, framing, fragmentation, rekey.
        .target(name: "PlexusSession", dependencies: ["PlexusNoise", "PlexusCrypto", nioCore, logging]),
        // Persistent relay-to-relay sessions (one per relay pair) carrying peer frames.
        .target(name: "PlexusPeering", dependencies: [
            "PlexusPeerWire", "PlexusMembership", "PlexusSession", "PlexusNoise", "PlexusCrypto", nioCore, nioPosix, logging,
        ]),
        // Membership on sockets: sealed UDP datagrams + Noise streams, bootstrap, admin endpoint.
        .target(name: "PlexusOverlay", dependencies: [
            "PlexusMembership", "PlexusSession", "PlexusNoise", "PlexusCrypto", nioCore, nioPosix, logging,
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        // The client endpoint: listener, connection handlers, and the driver of the relay core.
        .target(name: "PlexusRelay", dependencies: [
            "PlexusWire", "PlexusPeerWire", "PlexusRelayCore", "PlexusPeering", "PlexusMembership", nioCore, nioPosix,
            logging, atomics,
            "PlexusSession", // PeerPortSessionAcceptor: the peer port hands messaging sessions to PeerLinks
            "PlexusCrypto", // cluster keys in the configuration
        ]),

        // ── Operations (the relay's HTTP endpoint and its settings) ──
        // Layered settings for the CLI: config file (JSON) and PLEXUS_* environment under flags. Pure.
        .target(name: "PlexusSettings", dependencies: []),
        // Pure counters for metrics the relay keeps on its own loop (no lock, no metrics call).
        .target(name: "PlexusTelemetry", dependencies: []),
        // The relay's HTTP endpoint (health, readiness, Prometheus metrics, status JSON, dashboard):
        // takes status providers, knows nothing of the relay's internals.
        .target(name: "PlexusHTTP", dependencies: [
            "PlexusTelemetry", nioCore, nioPosix, logging, .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),

        // ── Federation (issue 11, Docs/federation.md) ──
        // Pure: gateway frames, interest exchange, the GatewayRouter state machine.
        .target(name: "PlexusFederation", dependencies: ["PlexusVocabulary", "PlexusPeerWire", nioCore]),
        // The gateway shell: listener, dialer, Noise XXpsk3 links keyed by the federation key.
        .target(name: "PlexusGateway", dependencies: [
            "PlexusFederation", "PlexusSession", "PlexusCrypto", "PlexusPeerWire", "PlexusVocabulary", nioCore, nioPosix, logging,
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), // the swappable federation keyring (SIGHUP)
        ]),

        // ── Node ──
        // One relay in an overlay: client endpoint + relay-to-relay sessions + membership, wired.
        .target(name: "PlexusNode", dependencies: [
            "PlexusRelay", "PlexusRelayCore", "PlexusOverlay", "PlexusPeering", "PlexusMembership", "PlexusCrypto",
            "PlexusFederation", "PlexusGateway", // federation (Docs/federation.md)
            nioCore, logging, .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),

        // ── Binding ──
        // The Swift client binding.
        .target(name: "Plexus", dependencies: ["PlexusVocabulary", "PlexusWire", nioCore, nioPosix, logging, dequeModule]),

        // ── CLI ──
        // The `plexus` command-line tool.
        .executableTarget(name: "PlexusCLI", dependencies: [
            "Plexus", "PlexusRelay", "PlexusRelayCore", "PlexusNode", "PlexusCrypto", "PlexusOverlay", "PlexusMembership",
            "PlexusHTTP", "PlexusSettings", .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            nioCore, nioPosix, logging, .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            "PlexusPeering", "PlexusSession", // peer metrics: PeerLinksReport, PeerHandshakeFailureCounts
            .product(name: "UnixSignals", package: "swift-service-lifecycle"), // SIGHUP reloads cluster keys
            "PlexusFederation", "PlexusGateway", // gateway flags and status (Docs/federation.md)
        ]),

        // ── Examples (Sources/Examples/): the binding in use, runnable against `scripts/run.sh`'s relay ──
        .target(name: "PlexusExampleSupport", path: "Sources/Examples/Support"),
        .executableTarget(name: "PlexusExampleEchoService", dependencies: ["Plexus", "PlexusExampleSupport", nioCore],
                          path: "Sources/Examples/EchoService"),
        .executableTarget(name: "PlexusExampleEchoClient", dependencies: ["Plexus", "PlexusExampleSupport"],
                          path: "Sources/Examples/EchoClient"),
        .executableTarget(name: "PlexusExampleChat", dependencies: ["Plexus", "PlexusExampleSupport"],
                          path: "Sources/Examples/Chat"),
        .executableTarget(name: "PlexusExampleFileTransfer", dependencies: ["Plexus", "PlexusExampleSupport", nioCore],
                          path: "Sources/Examples/FileTransfer"),
        .executableTarget(name: "PlexusExampleWorkerPool", dependencies: [
            "Plexus", "PlexusExampleSupport", nioCore, .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ], path: "Sources/Examples/WorkerPool"),

        // ── Tools (not shipped as libraries) ──
        // Deterministic network simulator driving many membership state machines.
        .target(name: "PlexusSimulator", dependencies: ["PlexusMembership"], path: "Sources/Tools/PlexusSimulator"),
        // `plexus-sim`: prints the membership figures.
        .executableTarget(name: "PlexusSim", dependencies: ["PlexusMembership", "PlexusSimulator"],
                          path: "Sources/Tools/PlexusSim"),
        // Spawning `plexus` processes on loopback (free ports, relays joined into one overlay,
        // status, memory): shared by the multi-process tests and the two-relay benchmark.
        .target(name: "PlexusProcesses", dependencies: ["PlexusOverlay"], path: "Sources/Tools/PlexusProcesses"),
        // Traffic and floods run inside the fault bed's namespaces (issue 10 scenarios and the soak).
        .executableTarget(name: "PlexusFaultLoad", dependencies: ["Plexus", "PlexusWire", nioCore],
                          path: "Sources/Tools/PlexusFaultLoad"),
        // Network-namespace fault harness (issue 10): relays in their own namespaces on a private
        // bridge; kill -9, SIGSTOP, partitions and packet loss (nftables), restarts.
        .target(name: "PlexusFaultBed", dependencies: ["PlexusProcesses", "PlexusOverlay"], path: "Sources/Tools/PlexusFaultBed"),
        // `PlexusDelayProxy`: the fault bed's userspace TCP delay proxy between "clouds" (federation tests, demo-federation.sh).
        .executableTarget(name: "PlexusDelayProxy", dependencies: [nioCore, nioPosix], path: "Sources/Tools/PlexusDelayProxy"),
        // `plexus-bench`: the benchmark command.
        .executableTarget(name: "PlexusBench", dependencies: [
            "Plexus", "PlexusRelay", "PlexusProcesses", nioCore, nioPosix, logging, atomics,
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/Tools/PlexusBench"),
        // `plexus-crypto-bench`: handshakes/s and session throughput next to raw libsodium.
        .executableTarget(name: "PlexusCryptoBench", dependencies: [
            "PlexusCrypto", "PlexusNoise", "PlexusSession", nioCore, nioEmbedded, logging,
        ], path: "Sources/Tools/PlexusCryptoBench"),
        // libFuzzer targets (stubs unless built by scripts/fuzz.sh) and their shared entry.
        .target(name: "PlexusFuzzDriver", path: "Sources/Tools/Fuzz/Driver"),
        .executableTarget(name: "PlexusWireFuzz", dependencies: ["PlexusWire", nioCore], path: "Sources/Tools/Fuzz/Wire"),
        .executableTarget(name: "PlexusFuzzSessionFrames", dependencies: ["PlexusSession", "PlexusCrypto", "PlexusFuzzDriver", nioCore],
                          path: "Sources/Tools/Fuzz/SessionFrames"),
        .executableTarget(name: "PlexusFuzzPeerFrames", dependencies: ["PlexusPeerWire", "PlexusFuzzDriver", nioCore],
                          path: "Sources/Tools/Fuzz/PeerFrames"),
        .executableTarget(name: "PlexusFuzzClusterKeys", dependencies: ["PlexusCrypto", "PlexusMembership", "PlexusVocabulary", "PlexusFuzzDriver"],
                          path: "Sources/Tools/Fuzz/ClusterKeys"),
        .executableTarget(name: "PlexusFuzzRelayCore", dependencies: [
            "PlexusRelayCore", "PlexusWire", "PlexusVocabulary", "PlexusFuzzDriver", nioCore,
        ], path: "Sources/Tools/Fuzz/RelayCore"),
        .executableTarget(name: "PlexusFuzzHandshake", dependencies: [
            "PlexusSession", "PlexusCrypto", "PlexusNoise", "PlexusFuzzDriver", nioCore, nioEmbedded, logging,
        ], path: "Sources/Tools/Fuzz/Handshake"),

        // ── Tests ──
        // Helpers shared by the test targets (hex literals and the like).
        .target(name: "PlexusTestSupport", dependencies: [nioCore], path: "Tests/PlexusTestSupport"),
        .testTarget(name: "PlexusWireTests", dependencies: ["PlexusWire", "PlexusTestSupport", nioCore, nioTestUtils]),
        .testTarget(name: "PlexusPeerWireTests", dependencies: ["PlexusPeerWire", "PlexusMembership", "PlexusTestSupport", nioCore]),
        .testTarget(name: "PlexusCryptoTests", dependencies: ["PlexusCrypto", "PlexusNoise", "PlexusTestSupport"],
                    resources: [.copy("Vectors")]),
        .testTarget(name: "PlexusRelayCoreTests", dependencies: [
            "PlexusRelayCore", "PlexusPeerWire", "PlexusWire", "PlexusMembership", "PlexusTelemetry", "PlexusTestSupport", nioCore,
            dequeModule,
            "PlexusCrypto", // cluster-key tests
        ]),
        .testTarget(name: "PlexusMembershipTests", dependencies: ["PlexusMembership", "PlexusSimulator", "PlexusTestSupport"]),
        .testTarget(name: "PlexusSessionTests", dependencies: ["PlexusSession", "PlexusCrypto", "PlexusNoise", nioCore, nioEmbedded, logging]),
        .testTarget(name: "PlexusPeeringTests", dependencies: [
            "PlexusPeering", "PlexusPeerWire", "PlexusMembership", "PlexusCrypto", nioCore, nioPosix,
        ]),
        .testTarget(name: "PlexusRelayTests", dependencies: [
            "PlexusRelay", "PlexusRelayCore", "PlexusWire", "PlexusTestSupport", nioCore, nioEmbedded, nioPosix, logging,
        ]),
        .testTarget(name: "PlexusNodeTests", dependencies: [
            "PlexusNode", "Plexus", "PlexusRelay", "PlexusOverlay", "PlexusMembership", "PlexusCrypto", nioCore, logging,
            "PlexusFederation", "PlexusGateway", // federation tests
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        // Depends on PlexusCLI so that the `plexus` binary the process tests spawn is built with them.
        .testTarget(name: "PlexusOverlayTests", dependencies: [
            "PlexusOverlay", "PlexusMembership", "PlexusCrypto", "PlexusCLI", "PlexusProcesses", nioCore, nioPosix,
        ]),
        // Three `plexus relay` processes in one overlay, clients (Swift binding, raw sockets) in
        // the test process: every pattern across relays, balancing, relay death, slow consumers.
        .testTarget(name: "PlexusCrossRelayTests", dependencies: [
            "Plexus", "PlexusOverlay", "PlexusCrypto", "PlexusProcesses", "PlexusWire", "PlexusCLI", nioCore, atomics,
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        // Drives the built `plexus` binary as child processes.
        .testTarget(name: "PlexusCLITests", dependencies: ["PlexusCLI", "PlexusProcesses", "PlexusHTTP"]),
        .testTarget(name: "PlexusSettingsTests", dependencies: ["PlexusSettings"]),
        .testTarget(name: "PlexusHTTPTests", dependencies: ["PlexusHTTP", "PlexusTelemetry", nioCore, nioPosix]),
        // Property-based tests of the limits (x-sheep/swift-property-based, Swift Testing).
        .testTarget(name: "PlexusPropertyTests", dependencies: [
            "Plexus", "PlexusWire", "PlexusPeerWire", "PlexusRelayCore", "PlexusVocabulary", nioCore,
            .product(name: "PropertyBased", package: "swift-property-based"),
            "PlexusFuzzRelayCore", // RelayCoreFuzzSmokeTests runs its smoke mode
        ]),
        // Fault scenarios on the namespace harness (root; skipped with a message otherwise).
        // Depends on PlexusCLI so that the `plexus` binary it spawns is built with it.
        .testTarget(name: "PlexusFaultTests", dependencies: [
            "PlexusFaultBed", "PlexusProcesses", "PlexusOverlay", "PlexusCLI",
            "PlexusFaultLoad", // the load tool the scenarios run in the namespaces, built with them
            "PlexusDelayProxy", // federation tests run it between namespaces
        ]),
        .testTarget(name: "PlexusFederationTests", dependencies: ["PlexusFederation", "PlexusPeerWire", "PlexusTestSupport", nioCore]),
        .testTarget(name: "PlexusIntegrationTests", dependencies: [
            "Plexus", "PlexusRelay", "PlexusWire", "PlexusProcesses", nioCore, nioPosix,
        ]),
    ],
    swiftLanguageModes: [.v6]
)
