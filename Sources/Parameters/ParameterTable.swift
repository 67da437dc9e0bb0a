/// A scenario's parameters, in the order help shows them: the one declaration the command line,
/// suite files, `kvmbench list`, help text and validation are all made from.
public struct ParameterTable: Sendable {
    public let entries: [any ParameterDeclaration]

    /// `entries` in order; an entry whose key is already in the table replaces the earlier one in
    /// place (a scenario's own default for a guest parameter).
    public init(_ entries: [any ParameterDeclaration]) {
        var out: [any ParameterDeclaration] = []
        for entry in entries {
            if let at = out.firstIndex(where: { $0.key == entry.key }) { out[at] = entry } else { out.append(entry) }
        }
        self.entries = out
    }

    public var keys: [String] { entries.map(\.key) }

    public subscript(key: String) -> (any ParameterDeclaration)? { entries.first { $0.key == key } }

    /// The table's declaration of `parameter`'s key (with the table's default).
    public func entry<Value>(_ parameter: Parameter<Value>) -> Parameter<Value> {
        guard let entry = self[parameter.key] else {
            preconditionFailure("parameter \(parameter.key) is read but not in the table")
        }
        guard let typed = entry as? Parameter<Value> else {
            preconditionFailure("parameter \(parameter.key) is declared with another type in the table")
        }
        return typed
    }

    /// The declaration the user means by `--name` (a flag, or a negated flag's own name).
    public func declaration(forCommandLine name: String) -> (any ParameterDeclaration)? {
        entries.first { $0.commandLineName == name }
    }

    /// `values` bound to this table, or an error naming the first key it does not declare.
    public func bind(_ values: ParameterSet, scenario: String) throws(ParameterError) -> ParameterSet {
        if let unknown = values.values.keys.sorted().first(where: { self[$0] == nil }) {
            throw ParameterError("unknown parameter \(commandLineFlag(for: unknown)) for \(scenario); it takes \(entries.map(\.commandLineName).joined(separator: ", "))")
        }
        return ParameterSet(values.values, table: self)
    }
}
