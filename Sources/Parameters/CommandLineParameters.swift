/// What the command line said about a table's parameters: the value lists of the flags given
/// (the cases are the cartesian product of the lists) and the words that were not flags.
public struct CommandLineParameters: Sendable, Equatable {
    public var lists: [String: [String]] = [:]
    /// Arguments that are not flags (a suite's NAME), in order.
    public var positional: [String] = []

    public init(lists: [String: [String]] = [:], positional: [String] = []) {
        self.lists = lists
        self.positional = positional
    }

    /// Reads `arguments` (`--vcpus 1,2`, `--vcpus=1,2`, `--shared-region`, `--no-zap-all-quirk`)
    /// with `table`. Anything else that starts with `-` is an error naming the flags the table takes;
    /// a value is checked by the scenario later, with the host's limits.
    public static func parse(_ arguments: [String], table: ParameterTable, command: String) throws(ParameterError) -> CommandLineParameters {
        var out = CommandLineParameters()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("-"), argument != "-" else {
                out.positional.append(argument)
                continue
            }
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            let inline = argument.contains("=") ? String(argument.dropFirst(name.count + 1)) : nil
            guard let declaration = table.declaration(forCommandLine: name) else {
                throw ParameterError("unknown option \(name) for \(command); it takes \(table.entries.map(\.commandLineName).joined(separator: ", ")) (see \(command) --help)")
            }
            switch declaration.form {
            case .flag, .negatedFlag:
                if inline != nil { throw ParameterError("\(name) takes no value (got \(argument))") }
                if case .negatedFlag = declaration.form { out.lists[declaration.key] = ["false"] } else { out.lists[declaration.key] = ["true"] }
            case .option(let valueName):
                let text: String
                if let inline {
                    text = inline
                } else {
                    guard index < arguments.count else { throw ParameterError("\(name) needs a value <\(valueName)>") }
                    text = arguments[index]
                    index += 1
                }
                let values = declaration.sweep.split(text)
                guard !values.isEmpty else { throw ParameterError("\(name) needs at least one value") }
                out.lists[declaration.key] = values
            }
        }
        return out
    }
}
