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
        .library(name: "PlexusWire", targets: ["PlexusWire"]),
        .executable(name: "plexus", targets: ["PlexusCLI"]),
        .executable(name: "plexus-bench", targets: ["PlexusBench"]),
        .executable(name: "plexus-crypto-bench", targets: ["PlexusCryptoBench"]),
        .executable(name: "plexus-sim", targets: ["PlexusSim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", exact: "1.6.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", exact: "1.3.0"),
    ],
    targets: [
        // libsodium, from Debian's libsodium-dev.
        .systemLibrary(name: "CSodium", path: "Sources/CSodium", pkgConfig: "libsodium",
                       providers: [.apt(["libsodium-dev"])]),
        // Relay protocol v1 codec: pure, NIOCore only.
        .target(name: "PlexusWire", dependencies: [nioCore]),
        // Typed libsodium wrappers: keys, AEAD, hashing, key files.
        .target(name: "PlexusCrypto", dependencies: ["CSodium"]),
        // Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b as a pure state machine.
        .target(name: "PlexusNoise", dependencies: ["PlexusCrypto"]),
        // Encrypted relay-to-relay sessions on SwiftNIO.
        .target(name: "PlexusSession", dependencies: ["PlexusNoise", "PlexusCrypto", nioCore, logging]),
        // SWIM + Lifeguard membership and the service directory: pure state machines.
        .target(name: "PlexusMembership", dependencies: [],
                linkerSettings: [.linkedLibrary("m", .when(platforms: [.linux]))]),
        // Deterministic network simulator driving many membership state machines.
        .target(name: "PlexusSimulator", dependencies: ["PlexusMembership"]),
        // `plexus-sim`: prints the membership figures.
        .executableTarget(name: "PlexusSim", dependencies: ["PlexusMembership", "PlexusSimulator"]),
        // Cross-relay routing groundwork (issue 5): peer frames, balancer, remote requests,
        // tunnel bridging, fan-out. Pure values: events + time in, actions out.
        .target(name: "PlexusRouting", dependencies: ["PlexusMembership", nioCore, dequeModule, heapModule]),
        // Persistent relay-to-relay sessions (one per relay pair) carrying peer frames.
        .target(name: "PlexusPeering", dependencies: [
            "PlexusRouting", "PlexusMembership", "PlexusSession", "PlexusNoise", "PlexusCrypto", nioCore, nioPosix, logging,
        ]),
        // The overlay shell: membership on UDP (sealed datagrams) + Noise streams, admin endpoint.
        .target(name: "PlexusOverlay", dependencies: [
            "PlexusMembership", "PlexusSession", "PlexusNoise", "PlexusCrypto", nioCore, nioPosix, logging,
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        // The relay core and its client endpoint.
        .target(name: "PlexusRelay", dependencies: [
            "PlexusWire", "PlexusRouting", "PlexusPeering", "PlexusMembership", nioCore, nioPosix, logging, atomics,
            dequeModule, heapModule,
        ]),
        // One relay in an overlay: relay server + relay-to-relay sessions + membership, wired.
        .target(name: "PlexusNode", dependencies: [
            "PlexusRelay", "PlexusOverlay", "PlexusPeering", "PlexusMembership", "PlexusCrypto", nioCore, logging,
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        // The Swift client binding.
        .target(name: "Plexus", dependencies: ["PlexusWire", nioCore, nioPosix, logging, dequeModule]),
        // The `plexus` command-line tool.
        .executableTarget(name: "PlexusCLI", dependencies: [
            "Plexus", "PlexusRelay", "PlexusNode", "PlexusCrypto", "PlexusOverlay", "PlexusMembership", nioCore, nioPosix,
            logging, .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Spawning `plexus` processes on loopback (free ports, relays joined into one overlay,
        // status, memory): shared by the multi-process tests and the two-relay benchmark.
        .target(name: "PlexusProcesses", dependencies: ["PlexusOverlay"]),
        // Network-namespace fault harness (issue 10): relays in their own namespaces on a private
        // bridge; kill -9, SIGSTOP, partitions and packet loss (nftables), restarts.
        .target(name: "PlexusFaultBed", dependencies: ["PlexusProcesses", "PlexusOverlay"]),
        // The benchmark command.
        .executableTarget(name: "PlexusBench", dependencies: [
            "Plexus", "PlexusRelay", "PlexusProcesses", nioCore, nioPosix, logging, atomics,
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // libFuzzer target for the wire decoders; see scripts/fuzz.sh.
        .executableTarget(name: "PlexusWireFuzz", dependencies: ["PlexusWire", nioCore], path: "Fuzz/Wire"),
        // libFuzzer targets for the session decoders (stubs unless built by scripts/fuzz.sh).
        .executableTarget(name: "PlexusFuzzSessionFrames", dependencies: ["PlexusSession", "PlexusCrypto", "PlexusFuzzDriver", nioCore],
                          path: "Fuzz/SessionFrames"),
        // libFuzzer's entry, shared by the fuzz targets below.
        .target(name: "PlexusFuzzDriver", path: "Fuzz/Driver"),
        // libFuzzer target for the relay-to-relay frame and batch decoders.
        .executableTarget(name: "PlexusFuzzPeerFrames", dependencies: ["PlexusRouting", "PlexusFuzzDriver", nioCore], path: "Fuzz/PeerFrames"),
        .executableTarget(name: "PlexusFuzzHandshake", dependencies: ["PlexusSession", "PlexusCrypto", "PlexusNoise", "PlexusFuzzDriver", nioCore, nioEmbedded, logging],
                          path: "Fuzz/Handshake"),
        // Crypto/session throughput benchmark (`swift build -c release --product plexus-crypto-bench`).
        .executableTarget(name: "PlexusCryptoBench", dependencies: [
            "PlexusCrypto", "PlexusNoise", "PlexusSession", nioCore, nioEmbedded, logging,
        ]),

        .testTarget(name: "PlexusWireTests", dependencies: ["PlexusWire", nioCore, nioTestUtils]),
        .testTarget(name: "PlexusCryptoTests", dependencies: ["PlexusCrypto", "PlexusNoise"]),
        .testTarget(name: "PlexusSessionTests", dependencies: ["PlexusSession", "PlexusCrypto", "PlexusNoise", nioCore, nioEmbedded, logging]),
        .testTarget(name: "PlexusMembershipTests", dependencies: ["PlexusMembership", "PlexusSimulator"]),
        .testTarget(name: "PlexusPeeringTests", dependencies: [
            "PlexusPeering", "PlexusRouting", "PlexusCrypto", nioCore, nioPosix,
        ]),
        .testTarget(name: "PlexusRoutingTests", dependencies: ["PlexusRouting", "PlexusMembership", nioCore, dequeModule]),
        .testTarget(name: "PlexusNodeTests", dependencies: [
            "PlexusNode", "Plexus", "PlexusRelay", "PlexusOverlay", "PlexusMembership", "PlexusCrypto", nioCore, logging,
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        .testTarget(name: "PlexusRelayTests", dependencies: ["PlexusRelay", "PlexusWire", nioCore, nioEmbedded, nioPosix]),
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
        .testTarget(name: "PlexusCLITests", dependencies: ["PlexusCLI", "PlexusProcesses"]),
        // Fault scenarios on the namespace harness (root; skipped with a message otherwise).
        // Depends on PlexusCLI so that the `plexus` binary it spawns is built with it.
        .testTarget(name: "PlexusFaultTests", dependencies: [
            "PlexusFaultBed", "PlexusProcesses", "PlexusOverlay", "PlexusCLI",
        ]),
        .testTarget(name: "PlexusIntegrationTests", dependencies: [
            "Plexus", "PlexusRelay", "PlexusWire", "PlexusProcesses", nioCore, nioPosix,
        ]),
    ],
    swiftLanguageModes: [.v6]
)
