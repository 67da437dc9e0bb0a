import Foundation

/// How a parameter is written on the command line.
public enum ParameterForm: Sendable, Equatable {
    /// `--flag VALUE` or `--flag=VALUE`; `valueName` is shown in help (`--vcpus <n>`).
    case option(valueName: String)
    /// `--flag` alone sets the value `true`; suite files write `key: true` or `key: false`.
    case flag
    /// `--NAME` alone sets the value `false` (`--no-zap-all-quirk` for `zap_all_quirk`).
    case negatedFlag(String)
}

/// How one command-line value becomes the values of several cases.
public enum ParameterSweep: Sendable {
    /// A comma-separated list: one case per value (`--vcpus 1,2,4`).
    case commaList
    /// The whole text is one value (`--tests map,unmap` runs one case with both tests).
    case whole
    /// Split by the parameter's own rule (`--pin`: CPU lists hold commas themselves).
    case custom(@Sendable (String) -> [String])

    /// The values `text` stands for.
    public func split(_ text: String) -> [String] {
        switch self {
        case .commaList: splitList(text)
        case .whole: [text.trimmingCharacters(in: .whitespaces)]
        case .custom(let rule): rule(text)
        }
    }
}

/// `text` split at commas, items trimmed, empty items dropped.
public func splitList(_ text: String) -> [String] {
    text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

/// What every parameter says about itself, whatever its value type: the row of a parameter
/// table that the command line, suite files and help text are made from.
public protocol ParameterDeclaration: Sendable {
    /// The key in suite files and results (`mem_per_vcpu`).
    var key: String { get }
    var help: String { get }
    var form: ParameterForm { get }
    var sweep: ParameterSweep { get }
    /// The default as the user would write it, or a sentence when it depends on other values.
    var defaultText: String? { get }
    /// The allowed values or range, for help text ("1...64", "none, missing, minor").
    var allowed: String { get }
    /// True when the default is one fixed value; false when the scenario derives it from other
    /// values (memslots' `mem_per_vcpu`) or there is none. Only a fixed default can stand in for
    /// a key that a document recorded before the parameter existed.
    var hasFixedDefault: Bool { get }
}

extension ParameterDeclaration {
    /// The option that sets this key: `--mem-per-vcpu`.
    public var flag: String { commandLineFlag(for: key) }

    /// What the user types: `--mem-per-vcpu`, or `--no-zap-all-quirk` for a negated flag.
    public var commandLineName: String {
        if case .negatedFlag(let name) = form { return "--" + name }
        return flag
    }
}

/// `--mem-per-vcpu` for `mem_per_vcpu`.
public func commandLineFlag(for key: String) -> String { "--" + key.replacingOccurrences(of: "_", with: "-") }

/// One parameter of a scenario, declared once: key, help, how it is written and swept, its
/// default, what is allowed, and how its text becomes a typed value (and back, for results).
///
/// Parsers name the flag and the allowed values in their errors, so every message a user sees
/// about a bad value comes from the declaration.
public struct Parameter<Value: Sendable>: ParameterDeclaration {
    public let key: String
    public let help: String
    public let form: ParameterForm
    public let sweep: ParameterSweep
    public let allowed: String
    /// Used when the parameter is not given; nil when the scenario derives it (see `defaultNote`).
    public let defaultValue: Value?
    /// Shown instead of the formatted default when the default depends on other values.
    public let defaultNote: String?
    let parser: @Sendable (_ text: String, _ flag: String) throws(ParameterError) -> Value
    let formatter: @Sendable (Value) -> String

    public init(_ key: String, help: String, form: ParameterForm = .option(valueName: "value"),
                sweep: ParameterSweep = .commaList, allowed: String, default defaultValue: Value?,
                defaultNote: String? = nil,
                parse: @escaping @Sendable (_ text: String, _ flag: String) throws(ParameterError) -> Value,
                format: @escaping @Sendable (Value) -> String) {
        self.key = key
        self.help = help
        self.form = form
        self.sweep = sweep
        self.allowed = allowed
        self.defaultValue = defaultValue
        self.defaultNote = defaultNote
        self.parser = parse
        self.formatter = format
    }

    public var defaultText: String? { defaultNote ?? defaultValue.map(formatter) }

    public var hasFixedDefault: Bool { defaultValue != nil }

    /// The value `text` stands for, or an error naming the flag and what is allowed.
    public func parse(_ text: String) throws(ParameterError) -> Value { try parser(text, flag) }

    /// Checks a value that arrived typed (an option parsed by ArgumentParser) with the same rule
    /// as its text, so both give the same one-line error.
    public func check(_ value: Value) throws(ParameterError) { _ = try parse(format(value)) }

    /// One help line: the help, then the key, the default and what is allowed.
    public var helpLine: String {
        "\(help.prefix(1).uppercased() + help.dropFirst()). Default \(defaultText ?? "none"); allowed: \(allowed)."
    }

    /// The value as recorded in results and written on the command line.
    public func format(_ value: Value) -> String { formatter(value) }

    /// `(key, text)` for a result's parameters.
    public func recorded(_ value: Value) -> (String, String) { (key, formatter(value)) }

    /// The same parameter with another default (a scenario's own guest shape).
    public func defaulting(to value: Value?, note: String? = nil) -> Parameter {
        Parameter(key, help: help, form: form, sweep: sweep, allowed: allowed, default: value, defaultNote: note,
                  parse: parser, format: formatter)
    }

    /// The same parameter with another help line, default and allowed text (a scenario that
    /// gives a shared key its own meaning, such as memslots' --slots).
    public func described(help: String? = nil, allowed: String? = nil, default value: Value?, note: String? = nil) -> Parameter {
        Parameter(key, help: help ?? self.help, form: form, sweep: sweep, allowed: allowed ?? self.allowed,
                  default: value, defaultNote: note, parse: parser, format: formatter)
    }

    /// The same parameter read with another parser (a narrower set of values, or an extra word).
    public func parsing(allowed: String, _ parse: @escaping @Sendable (_ text: String, _ flag: String) throws(ParameterError) -> Value) -> Parameter {
        Parameter(key, help: help, form: form, sweep: sweep, allowed: allowed, default: defaultValue,
                  defaultNote: defaultNote, parse: parse, format: formatter)
    }
}

extension Parameter where Value == Int {
    /// A whole number; `range`, when given, is enforced here, and `allowed` describes what
    /// a later check enforces (a host limit) when there is no range.
    public static func int(_ key: String, help: String, default value: Int?, range: ClosedRange<Int>? = nil,
                           allowed: String? = nil, valueName: String = "n", sweep: ParameterSweep = .commaList,
                           note: String? = nil) -> Parameter {
        Parameter(key, help: help, form: .option(valueName: valueName), sweep: sweep,
                  allowed: allowed ?? range.map { "\($0.lowerBound)...\($0.upperBound)" } ?? "a whole number",
                  default: value, defaultNote: note,
                  parse: { text, flag throws(ParameterError) in
                      guard let number = Int(text.trimmingCharacters(in: .whitespaces)) else {
                          throw ParameterError("\(flag) \(text): not a whole number")
                      }
                      if let range, !range.contains(number) {
                          throw ParameterError("\(flag) \(number) is out of range: allowed \(range.lowerBound)...\(range.upperBound)")
                      }
                      return number
                  },
                  format: { "\($0)" })
    }
}

extension Parameter where Value == UInt64 {
    /// A size in bytes, written 4096, 64M, 2G (binary units).
    public static func size(_ key: String, help: String, default value: UInt64?, allowed: String = "a size: 4096, 64M, 2G",
                            note: String? = nil) -> Parameter {
        Parameter(key, help: help, form: .option(valueName: "size"), allowed: allowed, default: value, defaultNote: note,
                  parse: { text, flag throws(ParameterError) in
                      guard let bytes = parseSize(text) else {
                          throw ParameterError("\(flag) \(text): not a size of less than 16 EiB (examples: 4096, 64M, 2G)")
                      }
                      return bytes
                  },
                  format: formatSize)
    }

    /// A duration in nanoseconds within `range`; a plain number is in `plainUnit` nanoseconds.
    public static func duration(_ key: String, help: String, default value: UInt64?, plainUnit: Double,
                                range: ClosedRange<UInt64>, problem: String) -> Parameter {
        Parameter(key, help: help, form: .option(valueName: "duration"),
                  allowed: "\(formatDuration(range.lowerBound))...\(formatDuration(range.upperBound))",
                  default: value,
                  parse: { text, flag throws(ParameterError) in
                      guard let nanos = parseDuration(text, plainUnit: plainUnit), range.contains(nanos) else {
                          throw ParameterError("\(flag) \(text): \(problem)")
                      }
                      return nanos
                  },
                  format: formatDuration)
    }
}

extension Parameter where Value == Bool {
    /// true or false (also yes/no, 1/0, on/off); on the command line a flag that sets true,
    /// or with `negated` a flag of that name that sets false.
    public static func bool(_ key: String, help: String, default value: Bool = false, negated: String? = nil) -> Parameter {
        Parameter(key, help: help, form: negated.map { .negatedFlag($0) } ?? .flag, sweep: .whole,
                  allowed: "true, false", default: value,
                  parse: { text, flag throws(ParameterError) in
                      switch text.trimmingCharacters(in: .whitespaces).lowercased() {
                      case "true", "yes", "1", "on": return true
                      case "false", "no", "0", "off": return false
                      default: throw ParameterError("\(flag) \(text): expected true or false")
                      }
                  },
                  format: { "\($0)" })
    }
}

extension Parameter where Value: RawRepresentable & CaseIterable, Value.RawValue == String {
    /// One of the enumeration's raw values (case-insensitive).
    public static func choice(_ key: String, help: String, default value: Value?, valueName: String? = nil) -> Parameter {
        let names = Value.allCases.map(\.rawValue).joined(separator: ", ")
        return Parameter(key, help: help, form: .option(valueName: valueName ?? key.replacingOccurrences(of: "_", with: "-")),
                         allowed: names, default: value,
                         parse: { text, flag throws(ParameterError) in
                             guard let choice = Value(rawValue: text.trimmingCharacters(in: .whitespaces).lowercased()) else {
                                 throw ParameterError("\(flag) \(text): unknown value; valid: \(names)")
                             }
                             return choice
                         },
                         format: { $0.rawValue })
    }
}

extension Parameter where Value == String {
    /// Free text checked by the scenario (a CPU list, a placement).
    public static func text(_ key: String, help: String, default value: String?, allowed: String,
                            valueName: String = "value", sweep: ParameterSweep = .commaList) -> Parameter {
        Parameter(key, help: help, form: .option(valueName: valueName), sweep: sweep, allowed: allowed, default: value,
                  parse: { text, _ in text.trimmingCharacters(in: .whitespaces) }, format: { $0 })
    }
}

extension Parameter {
    /// A comma-separated subset of an enumeration's cases, one value (it does not sweep), in
    /// declaration order; the default is every case. `what` names one item in errors ("test").
    public static func subset<Item: RawRepresentable & CaseIterable & Equatable & Sendable>(
        _ key: String, help: String, what: String
    ) -> Parameter where Value == [Item], Item.RawValue == String {
        let valid = Item.allCases.map(\.rawValue).joined(separator: ", ")
        return Parameter(key, help: help, form: .option(valueName: key), sweep: .whole, allowed: valid,
                         default: Array(Item.allCases), defaultNote: "all",
                         parse: { text, flag throws(ParameterError) in
                             var chosen: [Item] = []
                             for word in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) where !word.isEmpty {
                                 guard let item = Item(rawValue: word) else {
                                     throw ParameterError("\(flag) \(word): unknown \(what); valid: \(valid)")
                                 }
                                 if !chosen.contains(item) { chosen.append(item) }
                             }
                             if chosen.isEmpty { throw ParameterError("\(flag) needs at least one of \(valid)") }
                             return Item.allCases.filter(chosen.contains)
                         },
                         format: { $0.map(\.rawValue).joined(separator: ",") })
    }
}
