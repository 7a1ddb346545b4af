#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PlexusCrypto
import PlexusHTTP

/// The token that guards the relay's HTTP endpoint (`--http-auth token`, the default): 32 random
/// bytes from libsodium as 64 hex digits, written to a file only the relay's user can read.
///
/// Guarantees: `create` makes the file mode 0600 through a temporary file and an atomic rename,
/// so no reader ever sees a partial or world-readable token; it refuses (the relay does not
/// start) when a file already at the path is not a regular file owned by this user or is
/// readable or writable by group or others, like key files. A new token is written at every
/// start. `matches` compares in constant time (`sodium_memcmp`).
struct HTTPAccessToken: Sendable {
    /// Random bytes in a token.
    static let randomBytes = 32
    /// Longest token file `read` accepts (64 hex digits and a newline, with room to spare).
    static let maximumFileBytes = 1024
    /// The file name in a data directory.
    static let fileName = "http.token"

    let text: String

    /// True when `presented` is this token (constant time in the token's length).
    func matches(_ presented: String) -> Bool {
        ConstantTime.equals(Array(presented.utf8), Array(text.utf8))
    }

    var access: HTTPAccess {
        let token = self
        return .bearer { token.matches($0) }
    }

    /// Where a relay keeps its token when `--http-token-file` is not given: `DATA_DIR/http.token`,
    /// or without a data directory `~/.plexus/http-PORT.token` (PORT: the HTTP port).
    static func defaultPath(dataDirectory: String?, httpPort: Int) -> String {
        if let dataDirectory { return URL(fileURLWithPath: dataDirectory).appendingPathComponent(fileName).path }
        let home = ProcessInfo.processInfo.environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".plexus/http-\(httpPort).token").path
    }

    /// A fresh random token.
    static func generate() -> HTTPAccessToken {
        let bytes = SecretBytes.random(count: randomBytes).withUnsafeBytes { Array($0) }
        return HTTPAccessToken(text: hexString(bytes))
    }

    /// Checks that whatever is at `path` may be replaced: nothing, or a regular file of this
    /// user that nobody else can read or write. The error says what to do.
    static func checkReplaceable(_ path: String) throws(HTTPTokenFileError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw HTTPTokenFileError("\(path): cannot inspect it: \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw HTTPTokenFileError("\(path) exists and is not a regular file; remove it or choose another --http-token-file")
        }
        guard info.st_uid == geteuid() else {
            throw HTTPTokenFileError("\(path) belongs to another user (uid \(info.st_uid)); remove it or choose another --http-token-file")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw HTTPTokenFileError("\(path) is readable or writable by others (mode \(String(info.st_mode & 0o777, radix: 8))); "
                                     + "refusing to use it: remove it or `chmod 600` it")
        }
    }

    /// Writes a new token to `path` (mode 0600; the directory is created 0700 when missing).
    static func create(at path: String) throws(HTTPTokenFileError) -> HTTPAccessToken {
        let token = generate()
        try write(token, to: path)
        return token
    }

    /// Writes `token` to `path`, replacing a file `checkReplaceable` accepts.
    static func write(_ token: HTTPAccessToken, to path: String) throws(HTTPTokenFileError) {
        try checkReplaceable(path)
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if !FileManager.default.fileExists(atPath: directory) {
            guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
                throw HTTPTokenFileError("\(directory): cannot create the token's directory: \(String(cString: strerror(errno)))")
            }
        }
        let temporary = path + ".tmp-\(getpid())"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw HTTPTokenFileError("\(temporary): cannot create: \(String(cString: strerror(errno)))") }
        let contents = Array((token.text + "\n").utf8)
        let written = contents.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let chmodded = fchmod(fd, 0o600) == 0
        close(fd)
        guard written == contents.count, chmodded, rename(temporary, path) == 0 else {
            let problem = String(cString: strerror(errno))
            unlink(temporary)
            throw HTTPTokenFileError("\(path): cannot write the token: \(problem)")
        }
    }

    /// The token in `path`, nil when there is no such file (a relay with `--http-auth off`
    /// writes none); an error when it cannot be read (another user's file) or is malformed.
    static func read(_ path: String) throws(HTTPTokenFileError) -> HTTPAccessToken? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw HTTPTokenFileError("\(path): cannot read the relay's token: \(String(cString: strerror(errno))) "
                                     + "(run as the relay's user or root)")
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: maximumFileBytes + 1)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count >= 0, count <= maximumFileBytes else { throw HTTPTokenFileError("\(path): not a token file (too large or unreadable)") }
        let text = String(decoding: buffer.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count == 2 * randomBytes, text.allSatisfy(\.isHexDigit) else {
            throw HTTPTokenFileError("\(path): not a token file (expected \(2 * randomBytes) hex digits)")
        }
        return HTTPAccessToken(text: text)
    }

    /// Removes the file at `path` if it still holds this token (a relay stopping cleanly).
    func remove(at path: String) {
        guard let current = try? Self.read(path), current.matches(text) else { return }
        unlink(path)
    }
}

/// A token file that cannot be created, used or read; the message names the path and the fix.
struct HTTPTokenFileError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
