import Results

/// LAVA's way of recording results from inside a test definition: one
/// `lava-test-case NAME --result pass|fail|skip|unknown [--measurement V --units U]` per case and
/// gated metric. Names keep only `[A-Za-z0-9_.-]`, as LAVA's test-case names allow. The result is
/// the gate's verdict: `fail` for what fails the gate (regressed, failed, missing, newly
/// unsupported), `unknown` for a metric the comparison could not decide, `skip` for a case with
/// nothing to judge, `pass` otherwise.
public enum LAVATestCases {
    /// One invocation: the arguments after `lava-test-case`.
    public struct Invocation: Sendable, Equatable {
        public var name: String
        public var result: String
        public var measurement: Double?
        public var units: String?

        public var arguments: [String] {
            var out = [name, "--result", result]
            if let measurement {
                out += ["--measurement", "\(measurement)"]
                if let units { out += ["--units", units] }
            }
            return out
        }

        /// The line as a shell would run it (every argument is from the safe alphabet or a number).
        public var line: String { (["lava-test-case"] + arguments).joined(separator: " ") }
    }

    public static func invocations(_ figures: [FleetFigure]) -> [Invocation] {
        var seen: [String: Int] = [:]
        return figures.map { figure in
            var name = engineName(figure.caseKey + (figure.metric.map { "." + $0 } ?? ""))
            seen[name, default: 0] += 1
            if seen[name]! > 1 { name += "_\(seen[name]!)" }
            let measurement = figure.value.flatMap { $0.isFinite ? $0 : nil }
            let units = measurement == nil ? nil : figure.unit.map { unitName($0.symbol) }
            return Invocation(name: name, result: result(figure.outcome), measurement: measurement, units: units)
        }
    }

    /// Units as written where they are shell-safe ("pages/s", "%"), else reduced like names.
    static func unitName(_ unit: String) -> String {
        let safe = unit.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || "/%._-".unicodeScalars.contains($0)) }
        return safe ? unit : engineName(unit, keepingDots: false)
    }

    static func result(_ outcome: FigureOutcome) -> String {
        switch outcome {
        case .failed: "fail"
        case .passed, .measured: "pass"
        case .inconclusive: "unknown"
        case .skipped: "skip"
        }
    }
}
