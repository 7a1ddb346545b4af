import ArgumentParser

/// The flags of `plexus relay`. Every one is optional here: an absent flag falls back to its
/// `PLEXUS_*` environment variable, then to the `--config` file, then to the default
/// (`RelayOptions.resolve`). The defaults are in the help texts.
struct RelayFlags: ParsableArguments {
    @Option(help: "Config file (JSON object; keys are these flags' long names, e.g. {\"peer-port\": 55554}). Precedence: flag > PLEXUS_* environment > file > default. Also PLEXUS_CONFIG.")
    var config: String?

    @Option(help: "Client endpoint port, on 127.0.0.1 and ::1. Default 55555.")
    var port: Int?

    @Flag(inversion: .prefixedNo, help: "Development mode: random network key, throw-away identity, joins nothing.")
    var dev: Bool?

    @Option(name: .customLong("join"), help: "HOST:PORT of a relay to join (repeatable; a name with several addresses joins all).")
    var joins: [String] = []

    @Option(help: "Peer port (UDP gossip and TCP sessions, same number); 0 = ephemeral. Default 55554 (0 with --dev).")
    var peerPort: Int?

    @Option(help: "Address the peer listeners bind. Default 0.0.0.0 (127.0.0.1 with --dev).")
    var peerHost: String?

    @Option(help: "Host other relays use to reach this one. Default: --peer-host if it is one address; 127.0.0.1 if every seed is on this host; else the local address of the route to the first seed, or the first non-loopback interface address (logged). Never loopback toward another host.")
    var advertise: String?

    @Option(help: "Zone of this relay (e.g. a data-centre or rack name).")
    var zone: String?

    @Option(help: "Membership timing profile: lan or wan. Default lan.")
    var profile: String?

    @Option(help: "Network key file (required unless --dev).")
    var key: String?

    @Option(name: .customLong("accept-key"), help: "Additional network key file accepted during rotation (repeatable).")
    var acceptKeys: [String] = []

    @Option(name: .customLong("cluster-key"), help: "NAME=FILE: cluster NAME is protected by this key file (from `plexus keygen`; repeatable). Only relays holding it serve or call the cluster; its payloads are sealed between relays. SIGHUP re-reads key files and the config file. See Docs/cluster-keys.md.")
    var clusterKeys: [String] = []

    @Option(name: .customLong("accept-cluster-key"), help: "NAME=FILE: an older key of cluster NAME still accepted during rotation (repeatable).")
    var acceptClusterKeys: [String] = []

    @Option(name: .customLong("topic-key"), help: "NAME=FILE: topic NAME is protected by this key file (repeatable).")
    var topicKeys: [String] = []

    @Option(name: .customLong("accept-topic-key"), help: "NAME=FILE: an older key of topic NAME still accepted during rotation (repeatable).")
    var acceptTopicKeys: [String] = []

    @Flag(name: .customLong("protected-only"), inversion: .prefixedNo, help: "Refuse every cluster and topic this relay holds no key for. Default off.")
    var protectedOnly: Bool?

    @Option(help: "Data directory; the static identity is kept there so the node ID survives restarts.")
    var dataDir: String?

    @Option(help: "Opt-in discovery: 'lan' sends sealed multicast beacons (239.255.80.88) on the --advertise interface and joins relays it hears.")
    var discover: String?

    @Option(help: "UDP port of the LAN discovery group. Default 55552.")
    var discoverPort: Int?

    @Option(help: "HTTP endpoint (health, readiness, metrics, status, dashboard): HOST:PORT, or 'off'. Default 127.0.0.1:55580.")
    var http: String?

    @Option(help: "Who may read the HTTP endpoint's data (status, metrics, members, connections, dashboard): 'token' (a bearer token from --http-token-file; /healthz and /readyz stay open) or 'off' (every local user, for containers whose endpoint is not shared). Default token.")
    var httpAuth: String?

    @Option(help: "File the relay writes its HTTP token to at start (mode 0600; refused if others can read an existing one). Default DATA_DIR/http.token, or ~/.plexus/http-PORT.token without --data-dir.")
    var httpTokenFile: String?

    @Option(help: .hidden)
    var adminPort: Int?

    @Option(help: "Seconds a new client connection may take to complete its handshake. Default 5.")
    var handshakeTimeout: Double?

    @Option(help: "Bound, in bytes, of each client connection's outbound queue. Default 8388608.")
    var outboundQueueLimit: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. Default info.")
    var logLevel: String?

    @Option(help: "Log format: text (one line per entry) or json (one JSON object per line). Default text.")
    var logFormat: String?
}
