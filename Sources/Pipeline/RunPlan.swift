import Foundation
import Harness
import Host
import Results
import Scenarios

/// A case ready to run: its validated scenario, how often to repeat it, and the parameters it
/// was given (what the user wrote; the scenario's `parameters` are the complete, canonical set).
public struct PlannedCase: Sendable {
    public var scenario: any Scenario
    public var settings: RunSettings
    public var given: [String: String]
    public init(scenario: any Scenario, settings: RunSettings, given: [String: String] = [:]) {
        self.scenario = scenario
        self.settings = settings
        self.given = given
    }
    public var name: String { type(of: scenario).name }
}

/// Everything one invocation measures, validated against this host's limits before any guest
/// exists. `kvmbench run SCENARIO` is a plan of one scenario's cases; a suite, a gate and the
/// sides of an A/B run are plans of a suite's cases. The run session runs every plan the same way.
public struct RunPlan: Sendable {
    /// The scenario's or the suite's name (the progress line's label).
    public var label: String
    public var cases: [PlannedCase]
    /// Things to tell the user before running (duplicate cases dropped, symbolic values resolved).
    public var notices: [String]
    /// The suite as run, recorded with the results; nil for one scenario.
    public var suite: SuiteRecord?
    /// A gated metric whose coefficient of variation is above this gets a "noisy" note.
    public var maxCV: Double
    /// The order the repetitions run in (the command line's `--order`; sequential unless set).
    public var order: RunOrder

    public init(label: String, cases: [PlannedCase], notices: [String] = [], suite: SuiteRecord? = nil, maxCV: Double = 0.30,
                order: RunOrder = .sequential) {
        self.order = order
        self.label = label
        self.cases = cases
        self.notices = notices
        self.suite = suite
        self.maxCV = maxCV
    }

    /// One scenario's cases: one per combination of the values of each parameter (`lists`, keyed
    /// like suite keys), first key varying slowest. Throws the first bad value's error.
    public static func scenario(_ type: any Scenario.Type, lists: [String: [String]], settings: RunSettings,
                                limits: HostLimits) throws(ParameterError) -> RunPlan {
        try checkNotEmpty(lists)
        var cases: [PlannedCase] = []
        for parameters in cartesianProduct(lists) {
            let scenario = try type.init(parameters: ParameterSet(parameters), limits: limits)
            cases.append(PlannedCase(scenario: scenario, settings: settings, given: parameters))
        }
        return RunPlan(label: type.name, cases: cases)
    }

    /// Throws for a parameter given without a value (`--vcpus ""`).
    public static func checkNotEmpty(_ lists: [String: [String]]) throws(ParameterError) {
        if let empty = lists.sorted(by: { $0.key < $1.key }).first(where: { $0.value.isEmpty }) {
            throw ParameterError("--\(empty.key.replacingOccurrences(of: "_", with: "-")) needs at least one value")
        }
    }

    /// Every combination of the lists' values, in a stable order (first key varies slowest).
    public static func cartesianProduct(_ lists: [String: [String]]) -> [[String: String]] {
        var combos: [[String: String]] = [[:]]
        for key in lists.keys.sorted() {
            let values = lists[key] ?? []
            combos = combos.flatMap { combo in values.map { var next = combo; next[key] = $0; return next } }
        }
        return combos
    }

    /// The scenario types of the plan, each once, in order of first appearance.
    var scenarioTypes: [any Scenario.Type] {
        var seen = Set<String>()
        return cases.compactMap { planned in
            let type = type(of: planned.scenario)
            return seen.insert(type.name).inserted ? type : nil
        }
    }
}

/// The check of a plan before its first guest: the output path, the KVM device, and per case the
/// memory, hugepages and open files it needs (`Preflight`). Refusals stop the run (exit 64);
/// notices are printed and the run goes on.
public enum RunPreflight {
    public struct Outcome: Sendable, Equatable {
        public var refusals: [String] = []
        public var notices: [String] = []
        /// The most open files any case needs (RLIMIT_NOFILE is raised to it).
        public var openFiles: Int?
    }

    /// `device` nil skips the device check (a dry run).
    public static func check(_ plan: RunPlan, outputPaths: [String], device: String?,
                             host: PreflightHost = .current()) -> Outcome {
        var outcome = Outcome()
        for path in outputPaths {
            if let problem = Preflight.outputProblem(path) { outcome.refusals.append(problem) }
        }
        if let device, let problem = Preflight.deviceProblem(device) { outcome.refusals.append(problem) }
        let demands = plan.cases.enumerated().compactMap { index, planned in
            planned.scenario.preflightDemand(number: index + 1, given: planned.given)
        }
        let findings = Preflight.check(demands, host: host)
        outcome.refusals += findings.filter { $0.severity == .refusal }.map(\.message)
        outcome.openFiles = demands.map(\.openFiles).max()
        var seen = Set<String>()
        let notices = findings.filter { $0.severity == .notice }.map(\.message) + plan.cases.flatMap(\.scenario.placementNotices)
        outcome.notices = notices.filter { seen.insert($0).inserted }
        return outcome
    }
}
