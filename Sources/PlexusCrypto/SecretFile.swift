#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading and writing small secret files (key files) with owner-only permissions.
///
/// Guarantees: files are created with mode 0600 via a temporary file and an atomic
/// link/rename (no window where a partial or world-readable key exists); existing files are
/// never replaced unless asked; reads refuse files readable or writable by group or others
/// and files larger than `maximumFileSize`.
enum SecretFile {
    /// Largest secret file we read (a key file is one line of base64).
    static let maximumFileSize = Base64Key.maximumEncodedLength

    static func write(_ contents: [UInt8], to path: String, overwrite: Bool) throws {
        let temporary = path + ".tmp-" + hexString(Blake2b.hash(SecretBytes.random(count: 16).withUnsafeBytes { Array($0) }).prefix(6))
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CryptoError.ioFailure(path: temporary, operation: "creating", errno: errno) }
        var ok = false
        defer { if !ok { unlink(temporary) } }
        do {
            defer { close(fd) }
            guard fchmod(fd, 0o600) == 0 else { throw CryptoError.ioFailure(path: temporary, operation: "chmod", errno: errno) }
            var written = 0
            while written < contents.count {
                let n = contents.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CryptoError.ioFailure(path: temporary, operation: "writing", errno: errno)
                }
                written += n
            }
            guard fsync(fd) == 0 else { throw CryptoError.ioFailure(path: temporary, operation: "fsync", errno: errno) }
        }
        if overwrite {
            guard rename(temporary, path) == 0 else { throw CryptoError.ioFailure(path: path, operation: "renaming onto", errno: errno) }
        } else {
            guard link(temporary, path) == 0 else {
                if errno == EEXIST { throw CryptoError.fileExists(path: path) }
                throw CryptoError.ioFailure(path: path, operation: "creating", errno: errno)
            }
            unlink(temporary)
        }
        ok = true
    }

    /// Reads the whole file into secret memory after checking its permissions.
    static func read(_ path: String) throws -> SecretBytes {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw CryptoError.fileNotFound(path: path) }
            throw CryptoError.ioFailure(path: path, operation: "opening", errno: errno)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CryptoError.ioFailure(path: path, operation: "stat", errno: errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw CryptoError.invalidEncoding("key file \(path) is not a regular file")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw CryptoError.insecureFilePermissions(path: path, mode: UInt32(info.st_mode))
        }
        guard Int(info.st_size) <= maximumFileSize else {
            throw CryptoError.invalidEncoding("key file \(path) is \(info.st_size) bytes, more than the \(maximumFileSize)-byte limit for a key file; expected one line of base64; regenerate it with `plexus keygen --out FILE`")
        }
        var length = 0
        let buffer = try SecretBytes(count: maximumFileSize + 1) { out in
            while length <= maximumFileSize {
                let n = Glibc.read(fd, out.baseAddress! + length, out.count - length)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CryptoError.ioFailure(path: path, operation: "reading", errno: errno)
                }
                if n == 0 { break }
                length += n
            }
        }
        guard length <= maximumFileSize else {
            throw CryptoError.invalidEncoding("key file \(path) is larger than the \(maximumFileSize)-byte limit for a key file")
        }
        return buffer.withUnsafeBytes { SecretBytes(copying: UnsafeRawBufferPointer(rebasing: $0.prefix(length))) }
    }
}
