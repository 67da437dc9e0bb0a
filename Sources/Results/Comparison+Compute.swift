import Foundation

/// How `DocumentComparison.compare` decides: the inputs of `ChangeDecision` for every metric.
public struct ComparisonOptions: Sendable, Equatable {
    /// Relative change below which a metric counts as unchanged (0.05 = 5%).
    public var threshold: Double
    /// Thresholds for particular metrics, by metric name; they replace `threshold` for that metric.
    public var metricThresholds: [String: Double]
    /// Significance level of the Mann-Whitney U test; the ratio interval has confidence 1 - alpha.
    public var alpha: Double
    /// Robust relative spread (1.4826 MAD / |median|) above which a side is too noisy to decide.
    public var maxCV: Double
    /// Samples needed on each side before testing.
    public var minimumSamples: Int
    /// Leave a different kernel release out of the host differences (comparing kernels on purpose).
    public var ignoreKernelDifference: Bool
    /// The metrics that gate, when the suite lists them for the scenario; nil: the metrics the
    /// declarations mark as gated.
    public var gatedMetrics: Set<String>?
    /// What one sample of the before side is: a repetition (two documents, `ChangeDecision`) or a
    /// run's median (a host's history, `RunLevelDecision`).
    public var replication: Replication

    public init(threshold: Double = 0.05, metricThresholds: [String: Double] = [:], alpha: Double = 0.05,
                maxCV: Double = 0.30, minimumSamples: Int = 3, ignoreKernelDifference: Bool = false,
                gatedMetrics: Set<String>? = nil, replication: Replication = .repetitions) {
        self.gatedMetrics = gatedMetrics
        self.replication = replication
        self.threshold = threshold
        self.metricThresholds = metricThresholds
        self.alpha = alpha
        self.maxCV = maxCV
        self.minimumSamples = minimumSamples
        self.ignoreKernelDifference = ignoreKernelDifference
    }

    /// The threshold that applies to the metric called `metric`.
    public func threshold(for metric: String) -> Double {
        metricThresholds[metric] ?? threshold
    }

    /// Whether the metric declared as `definition` gates: the suite's list when it has one for
    /// the scenario, else the declaration.
    public func gates(_ definition: MetricDefinition) -> Bool {
        gatedMetrics.map { $0.contains(definition.name) } ?? definition.gated
    }
}

extension DocumentComparison {
    /// Compares two result documents case by case.
    ///
    /// Cases are matched by `CaseResult.key`. For a case that is `ok` on both sides, every metric
    /// present on both sides gets a `MetricComparison` from `ChangeDecision`, in the order of the
    /// after document. Unit, polarity and gating come from `declarations` (and the suite's list of
    /// gated metrics in `options`), never from the documents: a metric kvmbench does not declare,
    /// or whose unit on either side is not the declared one, is not compared (callers refuse such
    /// documents first, see `MetricDeclarationLookup.refusal`). A gated metric of the before side
    /// that the after side lacks or holds without samples is a `MissingMetric`. A case present on
    /// one side only, or unsupported or failed on either side, becomes an `UncomparedCase`
    /// ("only-before", "only-after", "unsupported", "failed"; failed wins over unsupported) with the
    /// gate's verdict. Host differences are `HostFingerprint.mmuRelevantDifferences(from:)`, without
    /// `kernel_release` when `options.ignoreKernelDifference` is set. When a key occurs more than
    /// once in a document, its first case is used.
    public static func compare(before: ResultDocument, beforeLabel: String, beforeIsReference: Bool = false,
                               after: ResultDocument, afterLabel: String,
                               declarations: MetricDeclarationLookup,
                               options: ComparisonOptions = .init()) -> DocumentComparison {
        let beforeCases = uniqueByKey(before.cases), afterCases = uniqueByKey(after.cases)
        let beforeByKey = Dictionary(uniqueKeysWithValues: beforeCases.map { ($0.key, $0) })
        let afterKeys = Set(afterCases.map(\.key))
        var metrics: [MetricComparison] = []
        var uncompared: [UncomparedCase] = []
        var missing: [MissingMetric] = []
        for afterCase in afterCases {
            guard let beforeCase = beforeByKey[afterCase.key] else {
                uncompared.append(UncomparedCase(afterCase, kind: "only-after", reason: "not in \(beforeLabel)",
                                                 verdict: afterCase.status == .failed ? .failed : .skipped))
                continue
            }
            if let problem = UncomparedCase(before: beforeCase, after: afterCase,
                                            beforeLabel: beforeLabel, afterLabel: afterLabel) {
                uncompared.append(problem)
            } else {
                metrics += compareMetrics(before: beforeCase, after: afterCase, declarations: declarations, options: options)
                missing += missingMetrics(before: beforeCase, after: afterCase, afterLabel: afterLabel,
                                          declarations: declarations, options: options)
            }
        }
        for beforeCase in beforeCases where !afterKeys.contains(beforeCase.key) {
            uncompared.append(UncomparedCase(beforeCase, kind: "only-before", reason: "not in \(afterLabel)",
                                             verdict: beforeCase.status == .ok ? .missing : .skipped))
        }
        return DocumentComparison(
            before: ComparisonSide(label: beforeLabel, host: before.host, kvmbench: before.kvmbench,
                                   isReference: beforeIsReference),
            after: ComparisonSide(label: afterLabel, host: after.host, kvmbench: after.kvmbench),
            hostDifferences: hostDifferences(before: before.host, after: after.host, options: options),
            metrics: metrics, uncompared: uncompared, missingMetrics: missing)
    }

    /// The cases in document order, keeping the first of any with the same key.
    static func uniqueByKey(_ cases: [CaseResult]) -> [CaseResult] {
        var seen: Set<String> = []
        return cases.filter { seen.insert($0.key).inserted }
    }

    /// Every declared metric of an ok case present on both sides in its declared unit (with
    /// samples after), decided by `ChangeDecision` under the declaration's polarity.
    static func compareMetrics(before: CaseResult, after: CaseResult, declarations: MetricDeclarationLookup,
                               options: ComparisonOptions) -> [MetricComparison] {
        after.metrics.compactMap { afterMetric in
            guard let definition = declarations.declaration(of: afterMetric, in: after),
                  let beforeMetric = before.metric(named: afterMetric.name),
                  beforeMetric.unit == definition.unit, afterMetric.unit == definition.unit,
                  !afterMetric.samples.isEmpty || !options.gates(definition) else { return nil }
            return MetricComparison(case: after, before: beforeMetric, after: afterMetric, definition: definition,
                                    gate: options.gates(definition),
                                    threshold: options.threshold(for: afterMetric.name), options: options)
        }
    }

    /// The gated metrics of `before` that `after` lacks, holds in another unit or without samples.
    static func missingMetrics(before: CaseResult, after: CaseResult, afterLabel: String,
                               declarations: MetricDeclarationLookup, options: ComparisonOptions) -> [MissingMetric] {
        before.metrics.compactMap { metric in
            guard let definition = declarations.declaration(of: metric, in: before), options.gates(definition) else { return nil }
            let why: String
            if let mine = after.metric(named: metric.name) {
                if mine.unit != definition.unit {
                    why = "is in \(mine.unit.symbol) in \(afterLabel), declared in \(definition.unit.symbol)"
                } else if mine.samples.isEmpty {
                    why = "has no samples in \(afterLabel)"
                } else {
                    return nil
                }
            } else {
                why = "is not in \(afterLabel)"
            }
            return MissingMetric(caseKey: after.key, scenario: after.scenario, parameters: after.parameters,
                                 metric: metric.name, reason: "gated metric \(metric.name) \(why)")
        }
    }

    static func hostDifferences(before: HostFingerprint, after: HostFingerprint,
                                options: ComparisonOptions) -> [HostDifference] {
        before.mmuRelevantDifferences(from: after)
            .filter { !(options.ignoreKernelDifference && $0.field == "kernel_release") }
            .map { HostDifference(field: $0.field, before: $0.mine, after: $0.theirs) }
    }
}

/// What the before side's samples are, and so which decision rule applies.
public enum Replication: Sendable, Equatable {
    /// Repetitions of one run each side: `ChangeDecision` (a baseline document against a result).
    case repetitions
    /// One median per earlier run of the host (at most `runLimit` of them) against the new run's
    /// repetitions: `RunLevelDecision`, the run as the unit of replication. `look`: which look at
    /// a night that `gate --budget` extends with more repetitions while it is undecided.
    case runs(runLimit: Int, look: RunLook = .single)
    /// One median per round of each side, in round order, A before and B after: side B against
    /// side A of an alternating run in one boot (`kvmbench ab`), `PairedRoundsDecision`. `looks`:
    /// how many times the rounds may be judged as they grow (more rounds while undecided); each
    /// look tests at alpha / looks, so the run as a whole keeps its false-alarm rate (Bonferroni).
    case pairedRounds(looks: Int)

    /// The alpha one decision tests at.
    public func alpha(_ alpha: Double) -> Double {
        switch self {
        case .pairedRounds(let looks): alpha / Double(max(1, looks))
        case .runs(_, let look): look.alpha(alpha)
        case .repetitions: alpha
        }
    }
}

/// One look at a night judged against the history. A plain night is looked at once, at alpha.
/// `gate --budget` looks again after each extension of the undecided cases' repetitions, and
/// cannot know in advance how many looks its time budget allows; so look k tests at alpha / 2^k
/// (alpha/2, alpha/4, ...). Those sum to less than alpha however many looks there are, so by the
/// union bound the night's chance of any false alarm over all its looks stays below alpha
/// (Bonferroni with a geometric alpha-spending; each look's family is Holm-adjusted as usual).
public struct RunLook: Sendable, Equatable {
    /// 1-based.
    public var index: Int
    /// Whether more looks may follow (`--budget`): then look k tests at alpha / 2^k.
    public var sequential: Bool
    /// The measured repetitions each earlier run of the history had (the suite's count). A night
    /// extended past it has a smaller within-run part (see `RunLevelDecision`); nil: as many.
    public var historyRepetitions: Int?

    public init(index: Int = 1, sequential: Bool = false, historyRepetitions: Int? = nil) {
        self.index = index
        self.sequential = sequential
        self.historyRepetitions = historyRepetitions
    }

    public static let single = RunLook()

    public func alpha(_ alpha: Double) -> Double {
        sequential ? alpha / pow(2, Double(max(1, index))) : alpha
    }

    /// The next look of a sequential night.
    public var next: RunLook { RunLook(index: index + 1, sequential: true, historyRepetitions: historyRepetitions) }
}

extension MetricComparison {
    /// The decision for one metric of `case`, from its samples on both sides.
    init(case result: CaseResult, before: Metric, after: Metric, definition: MetricDefinition, gate: Bool,
         threshold: Double, options: ComparisonOptions) {
        if case .runs(let runLimit, let look) = options.replication {
            // No spread limit on the new run: its own spread is part of what the earlier runs'
            // medians vary by, which the decision measures.
            let decision = RunLevelDecision(runMedians: before.samples, after: after.samples, better: definition.better,
                                            threshold: threshold, alpha: look.alpha(options.alpha), maxCV: .infinity,
                                            runLimit: runLimit, historyRepetitions: look.historyRepetitions)
            self.init(case: result, metric: after, definition: definition, gate: gate, beforeSamples: before.samples,
                      threshold: threshold, decision: decision)
            afterSpread = decision.afterSpread
            runSeries = RunSeriesFigures(decision)
            return
        }
        if case .pairedRounds = options.replication {
            let decision = PairedRoundsDecision(a: before.samples, b: after.samples, better: definition.better,
                                                threshold: threshold, alpha: options.replication.alpha(options.alpha))
            self.init(case: result, metric: after, definition: definition, gate: gate, beforeSamples: before.samples,
                      threshold: threshold, decision: decision)
            pairedRounds = PairedRoundsFigures(decision)
            return
        }
        let decision = ChangeDecision(before: before.samples, after: after.samples, better: definition.better,
                                      threshold: threshold, alpha: options.alpha, maxCV: options.maxCV,
                                      minimumSamples: options.minimumSamples)
        self.init(caseKey: result.key, scenario: result.scenario, parameters: result.parameters,
                  metric: after.name, unit: definition.unit, better: definition.better, gate: gate,
                  beforeSamples: before.samples, afterSamples: after.samples,
                  beforeMedian: decision.beforeMedian, afterMedian: decision.afterMedian,
                  change: decision.change, ratioInterval: decision.ratioInterval, pValue: decision.pValue,
                  threshold: threshold, verdict: decision.verdict, explanation: decision.explanation,
                  smallestPValue: decision.smallestPValue, detectableChange: decision.detectableChange,
                  beforeSpread: decision.beforeSpread, afterSpread: decision.afterSpread)
    }

    /// The comparison of `metric` (the new run's, or side B's) with `beforeSamples` (earlier runs'
    /// medians, or side A's round medians), as `decision` made it.
    init(case result: CaseResult, metric: Metric, definition: MetricDefinition, gate: Bool, beforeSamples: [Double],
         threshold: Double, decision: some MetricDecision) {
        self.init(caseKey: result.key, scenario: result.scenario, parameters: result.parameters,
                  metric: metric.name, unit: definition.unit, better: definition.better, gate: gate,
                  beforeSamples: beforeSamples, afterSamples: metric.samples,
                  beforeMedian: decision.beforeMedian, afterMedian: decision.afterMedian,
                  change: decision.change, ratioInterval: decision.ratioInterval, pValue: decision.pValue,
                  threshold: threshold, verdict: decision.verdict, explanation: decision.explanation,
                  detectableChange: decision.detectableChange)
    }
}

/// The figures of a paired decision over rounds (see `PairedRoundsDecision`).
public struct PairedRoundsFigures: Codable, Sendable, Equatable {
    public var rounds: Int
    /// How much B/A varies from round to round (sd of the log ratios).
    public var roundSpread: Double?
    /// Rounds that would decide an unchanged B at this spread.
    public var roundsNeeded: Int?

    public init(_ decision: PairedRoundsDecision) {
        rounds = decision.rounds
        roundSpread = decision.roundSpread
        roundsNeeded = decision.roundsNeeded
    }

    enum CodingKeys: String, CodingKey {
        case rounds, roundSpread = "round_spread", roundsNeeded = "rounds_needed"
    }
}

/// The figures of a run-level decision (see `RunLevelDecision`) that a reader of a history gate needs.
public struct RunSeriesFigures: Codable, Sendable, Equatable {
    /// Earlier runs the decision used.
    public var runs: Int
    /// Earlier runs the metric needs at this spread before an unchanged run can be called unchanged.
    public var runsNeeded: Int?
    /// Spread of the earlier runs' log medians, and its between-run and within-run parts.
    public var runSpread: Double?
    public var betweenRunSpread: Double?
    public var withinRunSpread: Double
    /// Fewer than `RunLevelDecision.defaultMinimumRuns` earlier runs, or fewer than `runsNeeded` and
    /// undecided: the host is still collecting history for this metric.
    public var collecting: Bool

    public init(_ decision: RunLevelDecision) {
        runs = decision.runs
        runsNeeded = decision.runsNeeded
        runSpread = decision.runSpread
        betweenRunSpread = decision.betweenRunSpread
        withinRunSpread = decision.withinRunSpread
        collecting = decision.isCollecting
            || (decision.verdict == .cannotDecide && (decision.runsNeeded.map { decision.runs < $0 } ?? false))
    }

    enum CodingKeys: String, CodingKey {
        case runs, runsNeeded = "runs_needed", runSpread = "run_spread", betweenRunSpread = "between_run_spread"
        case withinRunSpread = "within_run_spread", collecting
    }
}


extension UncomparedCase {
    init(_ result: CaseResult, kind: String, reason: String, verdict: CaseVerdict) {
        self.init(caseKey: result.key, scenario: result.scenario, parameters: result.parameters,
                  kind: kind, reason: reason, verdict: verdict)
    }

    /// Why a case present on both sides cannot be compared (failed, then unsupported), or nil when both
    /// sides are ok.
    init?(before: CaseResult, after: CaseResult, beforeLabel: String, afterLabel: String) {
        let sides = [(before, beforeLabel), (after, afterLabel)]
        for status in [CaseStatus.failed, .unsupported] {
            let matching = sides.filter { $0.0.status == status }
            guard !matching.isEmpty else { continue }
            let reason = matching.map { side, label in
                "\(status.rawValue) in \(label)" + (side.reason.map { ": \($0)" } ?? "")
            }.joined(separator: "; ")
            // Only the judged (after) side's own state counts against it: a failure there fails the
            // gate, a case the baseline measured and the result could not run is newly unsupported.
            let verdict: CaseVerdict
            if after.status == .failed {
                verdict = .failed
            } else if status == .unsupported, before.status == .ok {
                verdict = .newlyUnsupported
            } else {
                verdict = .skipped
            }
            self.init(after, kind: status.rawValue, reason: reason, verdict: verdict)
            return
        }
        return nil
    }
}
