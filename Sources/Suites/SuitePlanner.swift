import Foundation
import Host
import Pipeline
import Results
import Scenarios

/// Command-line changes to a suite: replace (or add) matrix axes, and the repetition counts.
public struct SuiteOverrides: Sendable, Equatable {
    /// Parameter key -> values; each replaces that axis in every entry whose scenario accepts the key.
    public var axes: [String: [String]]
    public var warmups: Int?
    public var repetitions: Int?

    public init(axes: [String: [String]] = [:], warmups: Int? = nil, repetitions: Int? = nil) {
        self.axes = axes
        self.warmups = warmups
        self.repetitions = repetitions
    }

    public var isEmpty: Bool { axes.isEmpty && warmups == nil && repetitions == nil }

    /// Parses one `--set key=value[,value...]`: each comma-separated value is one case. Keys may be
    /// written with '-' or '_'. A value that must itself hold commas (memslots' `tests`) joins its
    /// parts with '+': `--set tests=map+unmap,rw` gives the cases tests="map,unmap" and tests="rw".
    public static func parseSet(_ text: String) throws(SuiteError) -> (key: String, values: [String]) {
        guard let equals = text.firstIndex(of: "=") else {
            throw .usage("--set \(text): expected key=value[,value...] (e.g. --set dirty_mode=bitmap,ring)")
        }
        let key = text[..<equals].trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "-", with: "_")
        let values = text[text.index(after: equals)...].split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "+", with: ",") }.filter { !$0.isEmpty }
        guard !key.isEmpty else { throw .usage("--set \(text): the key is empty") }
        guard !values.isEmpty else { throw .usage("--set \(text): give at least one value") }
        return (key, values)
    }
}

/// A suite after overrides, with every case validated: nothing runs until all of it is valid.
public struct SuitePlan: Sendable {
    /// The suite as it will run (after overrides); recorded with the results.
    public var suite: SuiteDefinition
    public var cases: [PlannedCase]
    /// Things to tell the user before running (duplicate cases dropped, symbolic values resolved).
    public var notices: [String]

    /// The record stored in the result document.
    public var record: SuiteRecord { SuiteRecord(name: suite.name, definition: SuiteWriter.yaml(suite)) }

    /// The plan the run session runs.
    public var run: RunPlan {
        RunPlan(label: suite.name, cases: cases, notices: notices, suite: record, maxCV: suite.gate.maxCV)
    }
}

/// Applies overrides to a suite and builds every case's scenario with `init(parameters:limits:)`,
/// so bad values are reported with the suite file's line before any VM exists.
public enum SuitePlanner {
    /// `suite` with `overrides` applied. An override replaces the axis in every entry that already has
    /// it; when no entry has it, it is added to every entry whose scenario takes the key. A key that
    /// no scenario of the suite takes is an error.
    public static func apply(_ overrides: SuiteOverrides, to suite: SuiteDefinition) throws(SuiteError) -> SuiteDefinition {
        var suite = suite
        let origin = SourcePosition(file: "command line", line: 0, column: 0)
        for (key, values) in overrides.axes.sorted(by: { $0.key < $1.key }) {
            guard !values.isEmpty else { throw .usage("\(commandLineFlag(for: key)) needs at least one value") }
            let axis = SuiteAxis(key: key, values: values, position: origin)
            let having = suite.entries.indices.filter { suite.entries[$0].axis(key) != nil }
            let taking = suite.entries.indices.filter { index in
                guard let scenario = ScenarioCatalog.named(suite.entries[index].scenario) else { return false }
                return SuiteParser.allowedKeys(for: scenario)[key] != nil
            }
            guard !taking.isEmpty else {
                let keys = Set(suite.scenarioNames.compactMap(ScenarioCatalog.named).flatMap { SuiteParser.allowedKeys(for: $0).keys })
                throw .usage("\(commandLineFlag(for: key)): no scenario of suite \(suite.name) (\(suite.scenarioNames.joined(separator: ", "))) takes '\(key)'; keys they take: \(keys.sorted().joined(separator: ", "))")
            }
            for index in having.isEmpty ? taking : having {
                if let at = suite.entries[index].axes.firstIndex(where: { $0.key == key }) {
                    suite.entries[index].axes[at] = axis
                } else {
                    suite.entries[index].axes.append(axis)
                }
            }
        }
        if let warmups = overrides.warmups {
            guard warmups >= 0 else { throw .usage("--warmups must be 0 or more (got \(warmups))") }
            suite.warmups = warmups
            for index in suite.entries.indices { suite.entries[index].warmups = nil }
        }
        if let repetitions = overrides.repetitions {
            guard repetitions >= 1 else { throw .usage("--repetitions must be at least 1 (got \(repetitions))") }
            suite.repetitions = repetitions
            for index in suite.entries.indices { suite.entries[index].repetitions = nil }
        }
        return suite
    }

    /// Every case of `suite`, validated against `limits`. Unknown keys were rejected by the parser;
    /// they are checked again here because overrides and hand-built definitions skip it.
    public static func plan(_ suite: SuiteDefinition, limits: HostLimits) throws(SuiteError) -> SuitePlan {
        var cases: [PlannedCase] = []
        var notices: [String] = []
        var seen: [String: SourcePosition] = [:]
        for entry in suite.entries {
            guard let type = ScenarioCatalog.named(entry.scenario) else {
                throw .usage("\(entry.position): unknown scenario '\(entry.scenario)'; known: \(ScenarioCatalog.names)")
            }
            let allowed = SuiteParser.allowedKeys(for: type)
            for axis in entry.axes where allowed[axis.key] == nil {
                throw .usage("\(axis.position): unknown parameter '\(axis.key)' for scenario \(entry.scenario); allowed: \(allowed.keys.sorted().joined(separator: ", "))")
            }
            let settings = RunSettings(warmups: entry.warmups ?? suite.warmups,
                                       repetitions: entry.repetitions ?? suite.repetitions)
            for combination in entry.combinations {
                let scenario = try build(type, combination, entry: entry, limits: limits, notices: &notices)
                let key = CaseResult(scenario: entry.scenario, parameters: scenario.parameters).key
                if let first = seen[key] {
                    notices.append("\(entry.position): case \(key) is already in the suite (\(first)); it runs once")
                    continue
                }
                seen[key] = entry.position
                cases.append(PlannedCase(scenario: scenario, settings: settings, given: combination))
            }
        }
        guard !cases.isEmpty else { throw .usage("suite \(suite.name) has no cases") }
        return SuitePlan(suite: suite, cases: cases, notices: notices)
    }

    /// Builds one case. A value `max` of `slots` that the scenario does not take itself means the
    /// host's largest test-slot count (KVM_CAP_NR_MEMSLOTS minus kvmbench's own slot).
    static func build(_ type: any Scenario.Type, _ parameters: [String: String], entry: SuiteEntry,
                      limits: HostLimits, notices: inout [String]) throws(SuiteError) -> any Scenario {
        do {
            return try type.init(parameters: ParameterSet(parameters), limits: limits)
        } catch {
            if parameters["slots"]?.lowercased() == "max" {
                var resolved = parameters
                resolved["slots"] = "\(limits.usableSlots)"
                if let scenario = try? type.init(parameters: ParameterSet(resolved), limits: limits) {
                    let notice = "slots=max is \(limits.usableSlots) on this host (KVM_CAP_NR_MEMSLOTS \(limits.memslots) minus kvmbench's slot 0)"
                    if !notices.contains(notice) { notices.append(notice) }
                    return scenario
                }
            }
            let where_ = position(of: error.message, in: entry)
            let label = parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            throw .usage("\(where_): \(entry.scenario) [\(label)]: \(error.message)")
        }
    }

    /// The position of the axis a ParameterError names (its message starts with the flag), else the entry's.
    static func position(of message: String, in entry: SuiteEntry) -> SourcePosition {
        for axis in entry.axes where message.contains(commandLineFlag(for: axis.key)) { return axis.position }
        return entry.position
    }
}
