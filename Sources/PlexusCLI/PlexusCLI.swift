// PlexusCLI — the `plexus` command: relay, request, broadcast, publish, subscribe, serve, keygen,
// status (Docs/cli.md). Parses flags, builds configurations, maps failures to exit codes.
