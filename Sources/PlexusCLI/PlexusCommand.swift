@main
struct PlexusCommand { static func main() { print("plexus: under construction") } }
