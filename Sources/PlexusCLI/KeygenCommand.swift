import ArgumentParser
import PlexusCrypto

/// `plexus keygen --out FILE [--force]`: writes a new random 32-byte network key as one
/// line of base64 with file mode 0600; refuses to overwrite an existing file unless
/// `--force` is given.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Generate a new network key (32 random bytes, base64, mode 0600).")

    @Option(name: .long, help: "File to write the key to.")
    var out: String

    @Flag(name: .long, help: "Replace the file if it already exists.")
    var force = false

    func run() throws {
        do {
            let key = try NetworkKeyFile.generate(at: out, force: force)
            print("wrote network key \(key.fingerprint) to \(out) (mode 0600)")
        } catch let error as CryptoError {
            throw ValidationError(error.message)
        }
    }
}
