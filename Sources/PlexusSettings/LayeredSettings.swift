import Foundation

/// The type a setting holds.
public enum SettingKind: Sendable, Equatable {
    case string, integer, number, boolean
    /// Several strings: a JSON array in the file, comma-separated in the environment, a repeated flag.
    case list
}

/// One setting's value.
public enum SettingValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case number(Double)
    case boolean(Bool)
    case list([String])
}

/// Where a setting's value came from.
public enum SettingSource: Sendable, Equatable, CustomStringConvertible {
    case flag, environment(String), file(String), defaultValue

    public var description: String {
        switch self {
        case .flag: "command line"
        case .environment(let name): "environment \(name)"
        case .file(let path): "config file \(path)"
        case .defaultValue: "default"
        }
    }
}

/// A configuration problem, naming the key (and where it was found).
public struct SettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Settings from a config file and `PREFIX_*` environment variables, layered under command-line
/// flags: **flag > environment > file > default**.
///
/// Guarantees:
/// * The file is a JSON object whose keys are the long flag names without `--`
///   (`"peer-port": 55554`); an unknown key, a value of the wrong type or a file over
///   `maximumFileBytes` is an error that names the key (or the limit) and the file.
/// * The environment name of a key is the prefix, `_`, and the key upper-cased with `-` → `_`
///   (`peer-port` → `PLEXUS_PEER_PORT`); a value that does not parse as the key's kind is an error
///   naming the variable. Variables with the prefix that name no key are listed in
///   `unknownEnvironment` (for a warning: other tools may share the prefix).
/// * Pure: the caller passes the file's bytes and the environment.
public struct LayeredSettings: Sendable {
    /// A config file larger than this is refused.
    public static let maximumFileBytes = 1 << 20

    public let kinds: [String: SettingKind]
    public let environmentPrefix: String
    private var file: [String: SettingValue] = [:]
    private var environment: [String: (name: String, value: SettingValue)] = [:]
    private let filePath: String?
    /// `PREFIX_*` variables that name no key (besides `ignoredEnvironment`).
    public private(set) var unknownEnvironment: [String] = []

    /// - Parameters:
    ///   - kinds: every known key and its kind.
    ///   - configFile: the file's path (for messages) and bytes, or nil.
    ///   - environment: the process environment.
    ///   - ignoredEnvironment: prefixed variables that are not settings (e.g. `PLEXUS_CONFIG`).
    public init(kinds: [String: SettingKind], environmentPrefix: String = "PLEXUS", configFile: (path: String, bytes: [UInt8])?,
                environment: [String: String], ignoredEnvironment: Set<String> = []) throws(SettingsError) {
        self.kinds = kinds
        self.environmentPrefix = environmentPrefix
        self.filePath = configFile?.path
        if let configFile { file = try Self.parseFile(path: configFile.path, bytes: configFile.bytes, kinds: kinds) }
        let names = Dictionary(uniqueKeysWithValues: kinds.keys.map { (Self.environmentName($0, prefix: environmentPrefix), $0) })
        for (name, text) in environment where name.hasPrefix(environmentPrefix + "_") && !ignoredEnvironment.contains(name) {
            guard let key = names[name], let kind = kinds[key] else {
                unknownEnvironment.append(name)
                continue
            }
            guard let value = Self.parse(text, as: kind) else {
                throw SettingsError("environment \(name)=\(text): expected \(Self.describe(kind))")
            }
            self.environment[key] = (name, value)
        }
        unknownEnvironment.sort()
    }

    public static func environmentName(_ key: String, prefix: String = "PLEXUS") -> String {
        prefix + "_" + key.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// The value of `key`: `flag` if given, else the environment's, else the file's, else nil
    /// (the caller's default), with where it came from.
    public func value(_ key: String, flag: SettingValue?) -> (value: SettingValue, source: SettingSource)? {
        precondition(kinds[key] != nil, "unknown setting \(key)")
        if let flag { return (flag, .flag) }
        if let entry = environment[key] { return (entry.value, .environment(entry.name)) }
        if let value = file[key], let filePath { return (value, .file(filePath)) }
        return nil
    }

    public func string(_ key: String, flag: String?) -> String? {
        if case .string(let text)? = value(key, flag: flag.map(SettingValue.string))?.value { return text }
        return nil
    }

    public func integer(_ key: String, flag: Int?) -> Int? {
        if case .integer(let number)? = value(key, flag: flag.map(SettingValue.integer))?.value { return number }
        return nil
    }

    public func number(_ key: String, flag: Double?) -> Double? {
        switch value(key, flag: flag.map(SettingValue.number))?.value {
        case .number(let number)?: return number
        case .integer(let number)?: return Double(number)
        default: return nil
        }
    }

    public func boolean(_ key: String, flag: Bool?) -> Bool? {
        if case .boolean(let flag)? = value(key, flag: flag.map(SettingValue.boolean))?.value { return flag }
        return nil
    }

    /// A list: the flag's values if any were given, else the environment's, else the file's.
    public func list(_ key: String, flag: [String]) -> [String] {
        if case .list(let items)? = value(key, flag: flag.isEmpty ? nil : .list(flag))?.value { return items }
        return []
    }

    // MARK: Parsing

    static func parseFile(path: String, bytes: [UInt8], kinds: [String: SettingKind]) throws(SettingsError) -> [String: SettingValue] {
        guard bytes.count <= maximumFileBytes else {
            throw SettingsError("config file \(path): larger than \(maximumFileBytes) bytes")
        }
        let object: [String: JSONValue]
        do {
            object = try JSONDecoder().decode([String: JSONValue].self, from: Data(bytes))
        } catch {
            throw SettingsError("config file \(path): expected a JSON object of settings, e.g. {\"peer-port\": 55554}: \(error)")
        }
        var values: [String: SettingValue] = [:]
        for key in object.keys.sorted() {
            guard let kind = kinds[key] else {
                throw SettingsError("config file \(path): unknown key '\(key)' (known keys: \(kinds.keys.sorted().joined(separator: ", ")))")
            }
            guard let json = object[key], let value = json.setting(as: kind) else {
                throw SettingsError("config file \(path): key '\(key)': expected \(describe(kind))")
            }
            values[key] = value
        }
        return values
    }

    static func parse(_ text: String, as kind: SettingKind) -> SettingValue? {
        switch kind {
        case .string: return .string(text)
        case .integer: return Int(text.trimmingCharacters(in: .whitespaces)).map(SettingValue.integer)
        case .number: return Double(text.trimmingCharacters(in: .whitespaces)).map(SettingValue.number)
        case .boolean:
            switch text.lowercased() {
            case "1", "true", "yes", "on": return .boolean(true)
            case "0", "false", "no", "off": return .boolean(false)
            default: return nil
            }
        case .list:
            return .list(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        }
    }

    static func describe(_ kind: SettingKind) -> String {
        switch kind {
        case .string: "a string"
        case .integer: "an integer"
        case .number: "a number"
        case .boolean: "true or false"
        case .list: "a list of strings (a JSON array; comma-separated in the environment)"
        }
    }
}

/// A JSON value of a config file, decoded strictly (a boolean is never a number and vice versa).
enum JSONValue: Decodable {
    case boolean(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case other

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) { self = .boolean(value) }
        else if let value = try? container.decode(Int.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .other }
    }

    func setting(as kind: SettingKind) -> SettingValue? {
        switch (kind, self) {
        case (.string, .string(let text)): return .string(text)
        case (.boolean, .boolean(let flag)): return .boolean(flag)
        case (.integer, .integer(let number)): return .integer(number)
        case (.number, .integer(let number)): return .number(Double(number))
        case (.number, .number(let number)): return .number(number)
        case (.list, .string(let text)): return .list([text])
        case (.list, .array(let items)):
            var strings: [String] = []
            for item in items {
                guard case .string(let text) = item else { return nil }
                strings.append(text)
            }
            return .list(strings)
        default: return nil
        }
    }
}
