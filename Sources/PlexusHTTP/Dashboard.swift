/// The dashboard page served at `/`.
enum Dashboard {
    static let html = "<!doctype html><title>Plexus</title><p>dashboard</p>"
}
