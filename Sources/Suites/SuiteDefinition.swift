import Foundation
import Results

/// Where something was written in a suite file, for error messages ("Suites/x.yaml:12:7").
public struct SourcePosition: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }
    public var description: String { line > 0 ? "\(file):\(line):\(column)" : file }
}

/// A declarative benchmark suite, as read from a `Suites/*.yaml` file (see `SuiteParser` for the
/// format). It names scenarios by their `ScenarioCatalog` name; its values are the strings the
/// scenarios' `init(parameters:limits:)` read, so a suite validates exactly like the command line.
public struct SuiteDefinition: Sendable, Equatable {
    public var name: String
    public var description: String
    /// Warm-up repetitions per case (run and discarded) unless an entry says otherwise.
    public var warmups: Int
    /// Measured repetitions per case, each on a fresh VM, unless an entry says otherwise.
    public var repetitions: Int
    public var gate: GatePolicy
    public var entries: [SuiteEntry]
    /// Where the definition was read from (a path, or "suite record of FILE").
    public var source: String

    public init(name: String, description: String = "", warmups: Int = 1, repetitions: Int = 5,
                gate: GatePolicy = GatePolicy(), entries: [SuiteEntry], source: String = "<memory>") {
        self.name = name
        self.description = description
        self.warmups = warmups
        self.repetitions = repetitions
        self.gate = gate
        self.entries = entries
        self.source = source
    }

    /// The scenario names the suite runs, in order of first appearance.
    public var scenarioNames: [String] {
        var seen: Set<String> = []
        return entries.map(\.scenario).filter { seen.insert($0).inserted }
    }

    /// Cases before validation: the product of every entry's axes.
    public var caseCount: Int { entries.reduce(0) { $0 + $1.caseCount } }
}

/// One `cases:` item: a scenario and a matrix of its parameters; every combination is one case.
public struct SuiteEntry: Sendable, Equatable {
    public var scenario: String
    /// Parameter axes in file order; the first varies slowest. A fixed parameter is an axis of one value.
    public var axes: [SuiteAxis]
    public var warmups: Int?
    public var repetitions: Int?
    public var position: SourcePosition

    public init(scenario: String, axes: [SuiteAxis], warmups: Int? = nil, repetitions: Int? = nil,
                position: SourcePosition = SourcePosition(file: "<memory>", line: 0, column: 0)) {
        self.scenario = scenario
        self.axes = axes
        self.warmups = warmups
        self.repetitions = repetitions
        self.position = position
    }

    public var caseCount: Int { axes.reduce(1) { $0 * $1.values.count } }

    /// Every combination of the axes' values, first axis slowest.
    public var combinations: [[String: String]] {
        var combos: [[String: String]] = [[:]]
        for axis in axes {
            combos = combos.flatMap { combo in axis.values.map { var next = combo; next[axis.key] = $0; return next } }
        }
        return combos
    }

    public func axis(_ key: String) -> SuiteAxis? { axes.first { $0.key == key } }
}

/// One parameter of an entry and the values it takes.
public struct SuiteAxis: Sendable, Equatable {
    public var key: String
    public var values: [String]
    /// Where the key was written (or where the override came from).
    public var position: SourcePosition
    public init(key: String, values: [String], position: SourcePosition = SourcePosition(file: "<memory>", line: 0, column: 0)) {
        self.key = key
        self.values = values
        self.position = position
    }
}

/// How a suite's results are gated against a baseline: the decision rule's inputs and which metrics
/// take part, with their thresholds.
public struct GatePolicy: Sendable, Equatable {
    /// Relative change below which a metric counts as unchanged (0.05 = 5%).
    public var threshold: Double
    /// Significance level of the Mann-Whitney U test; the ratio interval has confidence 1 - alpha.
    public var alpha: Double
    /// Robust spread (1.4826 MAD / |median|, a coefficient of variation one outlier cannot inflate)
    /// above which a metric is too noisy to decide; a gated noisy metric makes the gate inconclusive.
    public var maxCV: Double
    /// Samples needed on each side before testing.
    public var minimumSamples: Int
    /// Share of all CPUs (0.10 = 10%) other processes may use during a case (median `host_busy`)
    /// before its comparison is called noisy and the gate refuses to decide on it.
    public var maxHostBusy: Double
    /// Per scenario, the metrics that gate and their thresholds (nil: `threshold`). A scenario listed
    /// here gates on exactly these metrics; a scenario not listed gates on the metrics its scenario
    /// marks as gated, at `threshold`.
    public var metrics: [String: [GatedMetric]]

    public init(threshold: Double = 0.05, alpha: Double = 0.05, maxCV: Double = 0.30, minimumSamples: Int = 3,
                maxHostBusy: Double = 0.10, metrics: [String: [GatedMetric]] = [:]) {
        self.threshold = threshold
        self.alpha = alpha
        self.maxCV = maxCV
        self.minimumSamples = minimumSamples
        self.maxHostBusy = maxHostBusy
        self.metrics = metrics
    }

    /// The comparison options for one scenario's cases.
    public func options(scenario: String, ignoreKernel: Bool, replication: Replication = .repetitions) -> ComparisonOptions {
        var thresholds: [String: Double] = [:]
        for metric in metrics[scenario] ?? [] { thresholds[metric.name] = metric.threshold ?? threshold }
        return ComparisonOptions(threshold: threshold, metricThresholds: thresholds, alpha: alpha, maxCV: maxCV,
                                 minimumSamples: minimumSamples, ignoreKernelDifference: ignoreKernel,
                                 gatedMetrics: metrics[scenario].map { Set($0.map(\.name)) }, replication: replication)
    }

    /// Whether `metric` of `scenario` gates, given what its declaration says (`scenarioGate`).
    public func gates(scenario: String, metric: String, scenarioGate: Bool) -> Bool {
        guard let listed = metrics[scenario] else { return scenarioGate }
        return listed.contains { $0.name == metric }
    }
}

/// A metric named in a suite's gate section.
public struct GatedMetric: Sendable, Equatable {
    public var name: String
    public var threshold: Double?
    public init(name: String, threshold: Double? = nil) {
        self.name = name
        self.threshold = threshold
    }
}
