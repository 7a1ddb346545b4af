/// The network key file format: one line of standard base64 encoding exactly 32 bytes,
/// followed by a newline; file mode 0600.
///
/// Guarantees: `write` never overwrites an existing file unless `force` is set and always
/// leaves mode 0600; `load` refuses group/other-accessible files, bad base64 and wrong
/// lengths with a message saying how to fix it.
public enum NetworkKeyFile {
    /// Writes `key` to `path`. Throws `fileExists` if the file exists and `force` is false.
    public static func write(_ key: NetworkKey, to path: String, force: Bool = false) throws {
        var text = Base64Key.encode(key.secret)
        text.append(0x0a)
        defer { wipe(&text) }
        try SecretFile.write(text, to: path, overwrite: force)
    }

    /// Generates a new random key and writes it to `path`; returns the key.
    @discardableResult
    public static func generate(at path: String, force: Bool = false) throws -> NetworkKey {
        let key = NetworkKey.generate()
        try write(key, to: path, force: force)
        return key
    }
}

extension NetworkKey {
    /// Loads a network key file written by `plexus keygen` (see `NetworkKeyFile`).
    public static func load(from path: String) throws -> NetworkKey {
        let text = try SecretFile.read(path)
        let secret = try text.withUnsafeBytes {
            try Base64Key.decode($0, expectedLength: byteCount, context: "network key file \(path)")
        }
        return try secret.withUnsafeBytes { try NetworkKey(bytes: $0) }
    }
}
