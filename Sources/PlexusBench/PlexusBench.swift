@main
struct PlexusBench { static func main() { print("plexus-bench: under construction") } }
