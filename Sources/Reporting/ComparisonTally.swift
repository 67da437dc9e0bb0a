import Results

/// How many compared metrics got each verdict, and how many cases could not be compared.
/// Every report ends with the same summary line built from this.
public struct ComparisonTally: Sendable, Equatable {
    public var regressed = 0
    public var improved = 0
    public var unchanged = 0
    public var notSignificant = 0
    /// Metrics the samples cannot decide (too few samples, or an interval straddling the threshold).
    public var cannotDecide = 0
    public var noisy = 0
    /// Cases unsupported on one side.
    public var unsupported = 0
    /// Cases that failed on one side.
    public var failed = 0
    /// Cases present on only one side.
    public var missing = 0
    /// Regressions of metrics that take part in gating: the ones that fail a CI run.
    public var gatedRegressions = 0
    /// Gated metrics of the baseline missing from the result (they fail the gate).
    public var missingMetrics = 0

    public init(_ comparison: DocumentComparison) {
        for metric in comparison.metrics {
            switch metric.verdict {
            case .regressed: regressed += 1
            case .improved: improved += 1
            case .unchanged: unchanged += 1
            case .notSignificant: notSignificant += 1
            case .cannotDecide: cannotDecide += 1
            case .noisy: noisy += 1
            }
            if metric.verdict == .regressed && metric.gate { gatedRegressions += 1 }
        }
        missingMetrics = comparison.missingMetrics.count
        for item in comparison.uncompared {
            switch item.kind {
            case "unsupported": unsupported += 1
            case "failed": failed += 1
            default: missing += 1
            }
        }
    }

    /// "2 regressed, 1 improved, 10 unchanged, 1 not significant, 0 noisy, 1 unsupported", with
    /// undecidable, failed and missing cases appended only when there are any.
    public var summaryLine: String {
        var parts = [
            "\(regressed) regressed", "\(improved) improved", "\(unchanged) unchanged",
            "\(notSignificant) not significant", "\(noisy) noisy", "\(unsupported) unsupported",
        ]
        if cannotDecide > 0 { parts.insert("\(cannotDecide) cannot decide", at: 3) }
        if failed > 0 { parts.append("\(failed) failed") }
        if missing > 0 { parts.append("\(missing) on one side only") }
        if missingMetrics > 0 { parts.append("\(missingMetrics) gated metric\(missingMetrics == 1 ? "" : "s") missing") }
        return parts.joined(separator: ", ")
    }
}

/// How many cases of some documents ran, could not run, or failed.
struct CaseTally: Equatable, Sendable {
    var ok = 0
    var unsupported = 0
    var failed = 0

    init<Cases: Sequence>(_ cases: Cases) where Cases.Element == CaseResult {
        for item in cases {
            switch item.status {
            case .ok: ok += 1
            case .unsupported: unsupported += 1
            case .failed: failed += 1
            }
        }
    }

    var total: Int { ok + unsupported + failed }

    /// "12 cases: 10 ok, 1 unsupported, 1 failed".
    var summaryLine: String {
        "\(total) case\(total == 1 ? "" : "s"): \(ok) ok, \(unsupported) unsupported, \(failed) failed"
    }
}
