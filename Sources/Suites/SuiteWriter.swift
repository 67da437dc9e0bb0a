import Foundation

/// Writes a suite back as YAML in the format `SuiteParser` reads: the "definition as run" stored in
/// every result document's `suite` record (after command-line overrides), so that the run can be
/// repeated exactly and the gate can read its thresholds. Every string is double-quoted (YAML's
/// double-quoted style accepts JSON string escapes), so any value survives the round trip.
public enum SuiteWriter {
    public static func yaml(_ suite: SuiteDefinition) -> String {
        var lines: [String] = []
        lines.append("suite: \(quote(suite.name))")
        if !suite.description.isEmpty { lines.append("description: \(quote(suite.description))") }
        lines.append("warmups: \(suite.warmups)")
        lines.append("repetitions: \(suite.repetitions)")
        lines.append("gate:")
        lines.append("  threshold: \(number(suite.gate.threshold))")
        lines.append("  alpha: \(number(suite.gate.alpha))")
        lines.append("  max_cv: \(number(suite.gate.maxCV))")
        lines.append("  min_samples: \(suite.gate.minimumSamples)")
        lines.append("  max_host_busy: \(number(suite.gate.maxHostBusy))")
        let gated = suite.gate.metrics.sorted { $0.key < $1.key }
        if !gated.isEmpty {
            lines.append("  metrics:")
            for (scenario, metrics) in gated {
                lines.append("    \(quote(scenario)):" + (metrics.isEmpty ? " []" : ""))
                for metric in metrics {
                    lines.append("      \(quote(metric.name)): " + (metric.threshold.map(number) ?? "default"))
                }
            }
        }
        lines.append("cases:")
        for entry in suite.entries {
            lines.append("  - scenario: \(quote(entry.scenario))")
            if let warmups = entry.warmups { lines.append("    warmups: \(warmups)") }
            if let repetitions = entry.repetitions { lines.append("    repetitions: \(repetitions)") }
            // Every axis under matrix:, in order (a single value as a scalar): the order decides
            // which axis varies slowest, so the cases run in the same order when repeated.
            if !entry.axes.isEmpty {
                lines.append("    matrix:")
                for axis in entry.axes {
                    let value = axis.values.count == 1 ? quote(axis.values[0]) : "[" + axis.values.map(quote).joined(separator: ", ") + "]"
                    lines.append("      \(quote(axis.key)): \(value)")
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A YAML double-quoted scalar.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\x%02X", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// A number that reads back to the same Double.
    static func number(_ value: Double) -> String { "\(value)" }
}
