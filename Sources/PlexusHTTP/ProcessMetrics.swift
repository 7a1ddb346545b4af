import Foundation

/// Reads this process's CPU time, resident memory, open descriptors and start time from
/// `/proc/self` (Linux). Returns nil elsewhere or when `/proc` is not readable.
public enum ProcessMetrics {
    /// Bounds what is read from each `/proc` file.
    static let maximumProcFileBytes = 64 * 1024
    /// Bounds the descriptors counted.
    static let maximumCountedDescriptors = 1_000_000

    public static func sample() -> ProcessSample? {
        guard let stat = read("/proc/self/stat"), let status = read("/proc/self/status") else { return nil }
        guard let fields = statFields(stat), fields.count > 19 else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard ticks > 0, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let resident = residentBytes(status) ?? 0
        var start: Double?
        if let startTicks = Double(fields[19]), let uptime = read("/proc/uptime")?.split(separator: " ").first.flatMap({ Double($0) }) {
            start = Date().timeIntervalSince1970 - uptime + startTicks / ticks
        }
        return ProcessSample(cpuSeconds: (user + system) / ticks, residentBytes: resident,
                             openFileDescriptors: openDescriptors(), startTimeSeconds: start)
    }

    /// The fields of `/proc/self/stat` after the command name (field 3 onwards, so index 0 is the state).
    static func statFields(_ text: String) -> [Substring]? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// `VmRSS` of `/proc/self/status`, in bytes.
    static func residentBytes(_ status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let digits = line.dropFirst(6).filter(\.isNumber)
            return Int(digits).map { $0 * 1024 }
        }
        return nil
    }

    static func openDescriptors() -> Int? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return nil }
        return min(entries.count, maximumCountedDescriptors)
    }

    static func read(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: maximumProcFileBytes) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Wall-clock unix milliseconds.
func wallClockMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
