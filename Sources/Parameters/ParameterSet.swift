/// Parameter values as written (strings keyed like the flags without dashes, `mem_per_vcpu`), from
/// the command line and suite files alike, read through the declarations of a `ParameterTable`.
public struct ParameterSet: Sendable {
    public private(set) var values: [String: String]
    /// The declarations the values are read with (their defaults); nil before `ParameterTable.bind`.
    public let table: ParameterTable?

    public init(_ values: [String: String], table: ParameterTable? = nil) {
        self.values = values
        self.table = table
    }

    /// The raw text of `key`, if given.
    public func string(_ key: String) -> String? { values[key] }

    /// True when `parameter` was given.
    public func has<Value>(_ parameter: Parameter<Value>) -> Bool { values[parameter.key] != nil }

    /// The given value of `parameter`, parsed and checked; nil when not given.
    public func given<Value>(_ parameter: Parameter<Value>) throws(ParameterError) -> Value? {
        guard let text = values[parameter.key] else { return nil }
        return try declaration(of: parameter).parse(text)
    }

    /// The given value of `parameter` when it was given and is valid, else nil: for estimates made
    /// before the scenario validates its parameters (the pre-flight's), which must not fail.
    public func validIfGiven<Value>(_ parameter: Parameter<Value>) -> Value? {
        (try? given(parameter)) ?? nil
    }

    /// The given value of `parameter`, else its default (the table's, once bound).
    public func value<Value>(_ parameter: Parameter<Value>) throws(ParameterError) -> Value {
        let declared = declaration(of: parameter)
        if let text = values[parameter.key] { return try declared.parse(text) }
        guard let fallback = declared.defaultValue else {
            preconditionFailure("parameter \(parameter.key) has no default; read it with given(_:)")
        }
        return fallback
    }

    /// A copy with `key` set to `text` (nil removes it).
    public func setting(_ key: String, to text: String?) -> ParameterSet {
        var copy = self
        copy.values[key] = text
        return copy
    }

    private func declaration<Value>(of parameter: Parameter<Value>) -> Parameter<Value> {
        table?.entry(parameter) ?? parameter
    }
}
