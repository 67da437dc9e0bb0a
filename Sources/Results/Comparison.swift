import Foundation

/// What a before/after comparison concluded about one metric of one case: the decision rule's
/// verdict (see `ChangeDecision`), serialised by its raw value ("not-significant", ...).
public typealias Verdict = ChangeVerdict

/// One side of a comparison: a baseline or a result file.
public struct ComparisonSide: Codable, Sendable, Equatable {
    /// What the user named: a baseline name or a file path.
    public var label: String
    public var host: HostFingerprint
    public var kvmbench: ToolInfo
    /// True for reference baselines transcribed from published figures (other hardware).
    public var isReference: Bool
    public init(label: String, host: HostFingerprint, kvmbench: ToolInfo, isReference: Bool = false) {
        self.label = label
        self.host = host
        self.kvmbench = kvmbench
        self.isReference = isReference
    }
    enum CodingKeys: String, CodingKey { case label, host, kvmbench, isReference = "is_reference" }
}

/// The comparison of one metric of one case present on both sides.
public struct MetricComparison: Codable, Sendable, Equatable {
    public var caseKey: String
    public var scenario: String
    public var parameters: [String: String]
    public var metric: String
    public var unit: MetricUnit
    public var better: Polarity
    public var gate: Bool
    public var beforeSamples: [Double]
    public var afterSamples: [Double]
    public var beforeMedian: Double
    public var afterMedian: Double
    /// after / before - 1 of the medians: +0.10 means the after median is 10% larger.
    public var change: Double
    /// Bootstrap confidence interval of (after median / before median), when both sides have enough samples.
    public var ratioInterval: [Double]?
    /// Two-sided Mann-Whitney U p-value, when both sides have enough samples.
    public var pValue: Double?
    /// Relative change below which a difference counts as unchanged (0.05 = 5%).
    public var threshold: Double
    public var verdict: Verdict
    /// Why the verdict is what it is, in a sentence (e.g. "p = 0.008, CI [1.12, 1.31] beyond 5%").
    public var explanation: String
    /// The smallest two-sided p-value the sample counts allow (2 / C(m + n, m)); nil in documents
    /// written before kvmbench said so.
    public var smallestPValue: Double?
    /// The smallest relative change this comparison detects with probability 0.8 at its alpha, from
    /// the sample counts and spreads (`Power.detectableChange`); nil when no change is detectable.
    public var detectableChange: Double?
    /// Robust relative spread (1.4826 MAD / |median|) of the before and after samples.
    public var beforeSpread: Double?
    public var afterSpread: Double?
    /// For a comparison with a host's history (the run as the unit): the run counts and spreads;
    /// nil for a comparison of two documents' repetitions.
    public var runSeries: RunSeriesFigures?
    /// For side B against side A of `kvmbench ab` (the round as the unit): rounds and their spread.
    public var pairedRounds: PairedRoundsFigures?

    public init(caseKey: String, scenario: String, parameters: [String: String], metric: String,
                unit: MetricUnit, better: Polarity, gate: Bool, beforeSamples: [Double],
                afterSamples: [Double], beforeMedian: Double, afterMedian: Double, change: Double,
                ratioInterval: [Double]?, pValue: Double?, threshold: Double, verdict: Verdict,
                explanation: String, smallestPValue: Double? = nil, detectableChange: Double? = nil,
                beforeSpread: Double? = nil, afterSpread: Double? = nil) {
        self.smallestPValue = smallestPValue
        self.detectableChange = detectableChange
        self.beforeSpread = beforeSpread
        self.afterSpread = afterSpread
        self.caseKey = caseKey
        self.scenario = scenario
        self.parameters = parameters
        self.metric = metric
        self.unit = unit
        self.better = better
        self.gate = gate
        self.beforeSamples = beforeSamples
        self.afterSamples = afterSamples
        self.beforeMedian = beforeMedian
        self.afterMedian = afterMedian
        self.change = change
        self.ratioInterval = ratioInterval
        self.pValue = pValue
        self.threshold = threshold
        self.verdict = verdict
        self.explanation = explanation
    }

    enum CodingKeys: String, CodingKey {
        case caseKey = "case_key", scenario, parameters, metric, unit, better, gate
        case beforeSamples = "before_samples", afterSamples = "after_samples"
        case beforeMedian = "before_median", afterMedian = "after_median", change
        case ratioInterval = "ratio_interval", pValue = "p_value", threshold, verdict, explanation
        case smallestPValue = "smallest_p_value", detectableChange = "detectable_change"
        case beforeSpread = "before_spread", afterSpread = "after_spread", runSeries = "run_series"
        case pairedRounds = "paired_rounds"
    }
}

/// A case that could not be compared, and why (missing on one side, unsupported, failed).
public struct UncomparedCase: Codable, Sendable, Equatable {
    public var caseKey: String
    public var scenario: String
    public var parameters: [String: String]
    /// "only-before", "only-after", "unsupported", "failed".
    public var kind: String
    public var reason: String
    /// The gate's verdict about the case (`caseVerdict` reads it); nil in comparisons written
    /// before kvmbench said so.
    public var verdict: CaseVerdict?
    public init(caseKey: String, scenario: String, parameters: [String: String], kind: String, reason: String,
                verdict: CaseVerdict? = nil) {
        self.caseKey = caseKey
        self.scenario = scenario
        self.parameters = parameters
        self.kind = kind
        self.reason = reason
        self.verdict = verdict
    }
    enum CodingKeys: String, CodingKey { case caseKey = "case_key", scenario, parameters, kind, reason, verdict }
}

/// The comparison of two result documents (or baselines), as `kvmbench compare --json` prints it.
public struct DocumentComparison: Codable, Sendable, Equatable {
    public var before: ComparisonSide
    public var after: ComparisonSide
    /// Host differences that change MMU behaviour; non-empty means "these numbers come from different hosts".
    public var hostDifferences: [HostDifference]
    public var metrics: [MetricComparison]
    public var uncompared: [UncomparedCase]
    /// Gated metrics of the before side (the baseline) that the after side lacks in a case
    /// measured on both: the gate fails on them.
    public var missingMetrics: [MissingMetric]

    public init(before: ComparisonSide, after: ComparisonSide, hostDifferences: [HostDifference],
                metrics: [MetricComparison], uncompared: [UncomparedCase], missingMetrics: [MissingMetric] = []) {
        self.before = before
        self.after = after
        self.hostDifferences = hostDifferences
        self.metrics = metrics
        self.uncompared = uncompared
        self.missingMetrics = missingMetrics
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        before = try container.decode(ComparisonSide.self, forKey: .before)
        after = try container.decode(ComparisonSide.self, forKey: .after)
        hostDifferences = try container.decode([HostDifference].self, forKey: .hostDifferences)
        metrics = try container.decode([MetricComparison].self, forKey: .metrics)
        uncompared = try container.decode([UncomparedCase].self, forKey: .uncompared)
        missingMetrics = try container.decodeIfPresent([MissingMetric].self, forKey: .missingMetrics) ?? []
    }

    /// How many metrics got each verdict.
    public var verdictCounts: [Verdict: Int] {
        metrics.reduce(into: [:]) { $0[$1.verdict, default: 0] += 1 }
    }

    enum CodingKeys: String, CodingKey {
        case before, after, hostDifferences = "host_differences", metrics, uncompared, missingMetrics = "missing_metrics"
    }
}

public struct HostDifference: Codable, Sendable, Equatable {
    public var field: String
    public var before: String
    public var after: String
    public init(field: String, before: String, after: String) {
        self.field = field
        self.before = before
        self.after = after
    }
}
