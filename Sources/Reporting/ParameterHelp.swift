import Parameters

/// A scenario's parameter table for people: the PARAMETERS section of `kvmbench run <scenario>
/// --help` and the tables of `kvmbench list`, both generated from the declarations.
public enum ParameterHelp {
    /// One entry per parameter: the flag with its value, then the help, key, default and allowed
    /// values, wrapped to `width` columns with a hanging indent.
    public static func text(_ table: ParameterTable, title: String, width: Int = 78) -> String {
        let indent = 26
        var lines = [title]
        for entry in table.entries {
            let label = "  " + usage(entry)
            let about = "\(entry.help). Key \(entry.key); default \(entry.defaultText ?? "none"); allowed: \(entry.allowed)."
            let body = wrap(about, width: width - indent)
            if label.count + 2 <= indent {
                lines.append(label.padding(to: indent) + body[0])
            } else {
                lines.append(label)
                lines.append(String(repeating: " ", count: indent) + body[0])
            }
            lines += body.dropFirst().map { String(repeating: " ", count: indent) + $0 }
        }
        return lines.joined(separator: "\n")
    }

    /// A table of every parameter: flag, default and allowed values.
    public static func table(_ table: ParameterTable, colour: Bool) -> String {
        var text = TextTable(columns: [.init("parameter"), .init("default"), .init("allowed")])
        for entry in table.entries {
            text.append([TextTable.Cell(usage(entry)), TextTable.Cell(entry.defaultText ?? "none"), TextTable.Cell(entry.allowed)])
        }
        return text.render(colour: colour)
    }

    /// `--vcpus <n>`, `--shared-region`, `--no-zap-all-quirk`.
    static func usage(_ entry: any ParameterDeclaration) -> String {
        switch entry.form {
        case .option(let valueName): "\(entry.commandLineName) <\(valueName)>"
        case .flag, .negatedFlag: entry.commandLineName
        }
    }

    /// `text` in lines of at most `width` characters, broken at spaces.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty || lines.isEmpty { lines.append(line) }
        return lines
    }
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
