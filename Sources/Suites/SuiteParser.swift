import Foundation
import Results
import Scenarios
import Yams

/// Reads suite files. The format (YAML):
///
/// ```yaml
/// suite: memslots                  # name (default: the file name without .yaml)
/// description: one line for `kvmbench list`
/// warmups: 1                       # per case, run and discarded (default 1)
/// repetitions: 5                   # per case, each on a fresh VM (default 5)
/// gate:                            # optional
///   threshold: 5%                  # default relative threshold (5% or 0.05)
///   alpha: 0.05                    # significance level (default 0.05)
///   max_cv: 30%                    # robust spread (1.4826 MAD / median) above which a metric is noisy (default 30%)
///   min_samples: 3                 # samples per side before testing (default 3)
///   max_host_busy: 10%             # CPU share other processes may use during a case (default 10%)
///   metrics:                       # optional, per scenario: the metrics that gate
///     memslots:
///       map.best: 10%              # metric: threshold, or `default`
///     demand-paging: [first_touch_time, demand_paging_rate]
/// cases:
///   - scenario: memslots           # a `kvmbench list` scenario
///     matrix:                      # every combination is one case; first key varies slowest
///       slots: [10, 30, 50, 100, 509, max]
///     parameters:                  # fixed values (an axis of one value)
///       mem_per_vcpu: 64M
///     repetitions: 3               # optional per-entry warmups/repetitions
///   - selftest: /path/to/dirty_log_perf_test   # a KVM selftest binary (see SelftestScenario)
///     args: -v 1 -b 64M -i 3       # its own flags (a string, or a list of arguments)
/// ```
///
/// Keys are checked here against the scenario's `parameterTable`; values are checked by
/// `SuitePlanner`, which builds every case's scenario.
/// Every error names the file, line and column, and what is allowed.
public enum SuiteParser {
    static let topKeys = ["suite", "description", "warmups", "repetitions", "gate", "cases"]
    static let entryKeys = ["scenario", "description", "matrix", "parameters", "warmups", "repetitions", "selftest", "args"]
    static let gateKeys = ["threshold", "alpha", "max_cv", "min_samples", "max_host_busy", "metrics"]

    /// Parses `text`; `file` names it in errors and becomes the definition's `source`.
    public static func parse(_ text: String, file: String) throws(SuiteError) -> SuiteDefinition {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw .usage(describe(error, file: file))
        } catch {
            throw .usage("\(file): not valid YAML: \(ErrorText.describe(error))")
        }
        guard let root else { throw .usage("\(file): empty suite file; it needs at least `cases:`") }
        let reader = Reader(file: file)
        return try reader.suite(root)
    }

    /// Reads the suite file at `url`.
    public static func parse(contentsOf url: URL, label: String? = nil) throws(SuiteError) -> SuiteDefinition {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw .usage("\(label ?? url.path): cannot read the suite file: \(ErrorText.describe(error))")
        }
        var suite = try parse(text, file: label ?? url.path)
        if suite.name.isEmpty { suite.name = url.deletingPathExtension().lastPathComponent }
        return suite
    }

    static func describe(_ error: YamlError, file: String) -> String {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            let around = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            return "\(file):\(mark.line):\(mark.column): not valid YAML: \(problem)\(around)"
        case let .duplicatedKeysInMapping(duplicates, context):
            return "\(file):\(context.mark.line):\(context.mark.column): duplicated key(s) \(duplicates.sorted().joined(separator: ", "))"
        case let .reader(problem, offset, _, _):
            return "\(file): not readable as YAML at character \(offset ?? 0): \(problem)"
        default:
            return "\(file): not valid YAML: \(ErrorText.oneLine("\(error)"))"
        }
    }

    /// The keys a case of `scenario` accepts (its parameter table), with their help.
    public static func allowedKeys(for scenario: any Scenario.Type) -> [String: String] {
        Dictionary(uniqueKeysWithValues: scenario.parameterTable.entries.map { ($0.key, $0.help) })
    }

    /// Parses a threshold written as "5%" or 0.05.
    public static func fraction(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix("%") {
            return Double(trimmed.dropLast().trimmingCharacters(in: .whitespaces)).map { $0 / 100 }
        }
        return Double(trimmed)
    }

    private struct Reader {
        let file: String

        func position(_ node: Node) -> SourcePosition {
            SourcePosition(file: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
        }

        func error(_ node: Node, _ message: String) -> SuiteError {
            .usage("\(position(node)): \(message)")
        }

        func mapping(_ node: Node, _ what: String) throws(SuiteError) -> [(key: String, keyNode: Node, value: Node)] {
            guard let mapping = node.mapping else { throw error(node, "\(what) must be a mapping (key: value lines)") }
            var out: [(String, Node, Node)] = []
            for (key, value) in mapping {
                guard let name = key.scalar?.string else { throw error(key, "keys of \(what) must be plain words") }
                out.append((name, key, value))
            }
            return out
        }

        func scalar(_ node: Node, _ what: String) throws(SuiteError) -> String {
            guard let scalar = node.scalar else { throw error(node, "\(what) must be a single value") }
            return scalar.string
        }

        func integer(_ node: Node, _ what: String, minimum: Int) throws(SuiteError) -> Int {
            let text = try scalar(node, what)
            guard let value = Int(text), value >= minimum else {
                throw error(node, "\(what) must be a whole number of at least \(minimum) (got \(text))")
            }
            return value
        }

        func fraction(_ node: Node, _ what: String, range: ClosedRange<Double>) throws(SuiteError) -> Double {
            let text = try scalar(node, what)
            guard let value = SuiteParser.fraction(text), value.isFinite, range.contains(value), value > 0 else {
                throw error(node, "\(what) must be a fraction or percentage above 0 and at most \(range.upperBound) (e.g. 5% or 0.05; got \(text))")
            }
            return value
        }

        func unknown(_ keyNode: Node, _ key: String, in what: String, allowed: [String]) -> SuiteError {
            error(keyNode, "unknown key '\(key)' in \(what); allowed: \(allowed.joined(separator: ", "))")
        }

        func suite(_ root: Node) throws(SuiteError) -> SuiteDefinition {
            var suite = SuiteDefinition(name: "", entries: [], source: file)
            var sawCases = false
            for (key, keyNode, value) in try mapping(root, "a suite file") {
                switch key {
                case "suite":
                    suite.name = try scalar(value, "suite")
                    guard SuiteNames.isValid(suite.name) else {
                        throw error(value, "suite name '\(suite.name)' may use only letters, digits, '.', '_' and '-'")
                    }
                case "description": suite.description = try scalar(value, "description")
                case "warmups": suite.warmups = try integer(value, "warmups", minimum: 0)
                case "repetitions": suite.repetitions = try integer(value, "repetitions", minimum: 1)
                case "gate": suite.gate = try gate(value)
                case "cases":
                    sawCases = true
                    guard let sequence = value.sequence, !sequence.isEmpty else {
                        throw error(value, "cases must be a list of `- scenario: NAME` items")
                    }
                    for item in sequence { suite.entries.append(try entry(item)) }
                default: throw unknown(keyNode, key, in: "a suite file", allowed: SuiteParser.topKeys)
                }
            }
            guard sawCases else { throw error(root, "a suite needs `cases:`, a list of `- scenario: NAME` items") }
            for scenario in suite.gate.metrics.keys.sorted() where !suite.scenarioNames.contains(scenario) {
                throw .usage("\(file): gate.metrics names scenario '\(scenario)', which no case of this suite runs; the suite runs: \(suite.scenarioNames.joined(separator: ", "))")
            }
            return suite
        }

        func gate(_ node: Node) throws(SuiteError) -> GatePolicy {
            var policy = GatePolicy()
            var metricsNode: Node?
            for (key, keyNode, value) in try mapping(node, "gate") {
                switch key {
                case "threshold": policy.threshold = try fraction(value, "gate.threshold", range: 0...10)
                case "alpha": policy.alpha = try fraction(value, "gate.alpha", range: 0...0.5)
                case "max_cv": policy.maxCV = try fraction(value, "gate.max_cv", range: 0...10)
                case "min_samples": policy.minimumSamples = try integer(value, "gate.min_samples", minimum: 2)
                case "max_host_busy": policy.maxHostBusy = try fraction(value, "gate.max_host_busy", range: 0...1)
                case "metrics": metricsNode = value
                default: throw unknown(keyNode, key, in: "gate", allowed: SuiteParser.gateKeys)
                }
            }
            if let metricsNode {
                for (scenario, scenarioNode, list) in try mapping(metricsNode, "gate.metrics") {
                    guard ScenarioCatalog.named(scenario) != nil else {
                        throw error(scenarioNode, "unknown scenario '\(scenario)' in gate.metrics; known: \(ScenarioCatalog.names)")
                    }
                    policy.metrics[scenario] = try gatedMetrics(list, scenario: scenario, default: policy.threshold)
                }
            }
            return policy
        }

        func gatedMetrics(_ node: Node, scenario: String, default threshold: Double) throws(SuiteError) -> [GatedMetric] {
            if let sequence = node.sequence {
                var out: [GatedMetric] = []
                for item in sequence { out.append(GatedMetric(name: try scalar(item, "a metric name"))) }
                return out
            }
            var out: [GatedMetric] = []
            for (name, _, value) in try mapping(node, "gate.metrics.\(scenario)") {
                let text = try scalar(value, "the threshold of \(name)")
                if text == "default" || text.isEmpty {
                    out.append(GatedMetric(name: name))
                } else {
                    out.append(GatedMetric(name: name, threshold: try fraction(value, "the threshold of \(name)", range: 0...10)))
                }
            }
            return out
        }

        /// `- selftest: PATH` with `args: "-v 1 -b 64M"` (or a list, one argument per item) is
        /// `scenario: selftest` with the parameters `path` and `args`.
        func selftestPairs(_ pairs: [(key: String, keyNode: Node, value: Node)], _ node: Node) throws(SuiteError) -> [(key: String, keyNode: Node, value: Node)] {
            if pairs.contains(where: { $0.key == "scenario" }) {
                throw error(node, "a case is either `scenario: NAME` or `selftest: PATH`, not both")
            }
            var out: [(key: String, keyNode: Node, value: Node)] = []
            var fixed: [(Node, Node)] = []
            for pair in pairs {
                switch pair.key {
                case "selftest":
                    out.append(("scenario", pair.keyNode, Node.scalar(.init("selftest", .implicit, .any, pair.value.mark))))
                    fixed.append((Node.scalar(.init("path", .implicit, .any, pair.keyNode.mark)),
                                  Node.scalar(.init(try scalar(pair.value, "selftest (the path of the binary)"), .implicit, .any, pair.value.mark))))
                case "args":
                    if let sequence = pair.value.sequence {
                        var items: [String] = []
                        for item in sequence { items.append(SelftestScenario.quoted(try scalar(item, "an argument"))) }
                        fixed.append((Node.scalar(.init("args", .implicit, .any, pair.keyNode.mark)), Node.scalar(.init(items.joined(separator: " "), .implicit, .any, pair.value.mark))))
                    } else {
                        fixed.append((Node.scalar(.init("args", .implicit, .any, pair.keyNode.mark)), Node.scalar(.init(try scalar(pair.value, "args"), .implicit, .any, pair.value.mark))))
                    }
                case "parameters":
                    throw error(pair.keyNode, "a selftest case takes `args:` (its own flags), not parameters; a list of argument strings under matrix: args: runs one case each")
                default: out.append(pair)
                }
            }
            if !fixed.isEmpty { out.append(("parameters", node, Node.mapping(.init(fixed, .implicit, .any, node.mark)))) }
            return out
        }

        func entry(_ node: Node) throws(SuiteError) -> SuiteEntry {
            var pairs = try mapping(node, "a case")
            if pairs.contains(where: { $0.key == "selftest" }) { pairs = try selftestPairs(pairs, node) }
            guard let scenarioPair = pairs.first(where: { $0.key == "scenario" }) else {
                throw error(node, "a case needs `scenario: NAME`; known scenarios: \(ScenarioCatalog.names)")
            }
            let name = try scalar(scenarioPair.value, "scenario")
            guard let scenario = ScenarioCatalog.named(name) else {
                throw error(scenarioPair.value, "unknown scenario '\(name)'; known: \(ScenarioCatalog.names)")
            }
            let allowed = SuiteParser.allowedKeys(for: scenario)
            var entry = SuiteEntry(scenario: name, axes: [], position: position(node))
            for (key, keyNode, value) in pairs {
                switch key {
                case "scenario", "description", "selftest": continue
                case "warmups": entry.warmups = try integer(value, "warmups", minimum: 0)
                case "repetitions": entry.repetitions = try integer(value, "repetitions", minimum: 1)
                case "matrix", "parameters":
                    for (parameter, parameterNode, values) in try mapping(value, key) {
                        guard allowed[parameter] != nil else {
                            throw error(parameterNode, "unknown parameter '\(parameter)' for scenario \(name); allowed: \(allowed.keys.sorted().joined(separator: ", "))")
                        }
                        if let existing = entry.axis(parameter) {
                            throw error(parameterNode, "parameter '\(parameter)' is given twice (first at line \(existing.position.line))")
                        }
                        let list: [String]
                        if let sequence = values.sequence {
                            guard key == "matrix" else {
                                throw error(values, "parameters take one value each; put lists under matrix:")
                            }
                            var items: [String] = []
                            for item in sequence { items.append(try scalar(item, "a value of \(parameter)")) }
                            guard !items.isEmpty else { throw error(values, "\(parameter) needs at least one value") }
                            list = items
                        } else {
                            list = [try scalar(values, "the value of \(parameter)")]
                        }
                        entry.axes.append(SuiteAxis(key: parameter, values: list, position: position(parameterNode)))
                    }
                default: throw unknown(keyNode, key, in: "a case", allowed: SuiteParser.entryKeys)
                }
            }
            return entry
        }
    }
}

/// Names of suites and baselines.
public enum SuiteNames {
    /// Letters, digits, '.', '_' and '-', not starting with '.'.
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.first, first != ".", name.count <= 100 else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }
}
