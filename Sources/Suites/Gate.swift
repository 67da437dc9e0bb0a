import Foundation
import Reporting
import Results

/// The regression gate's decision about a result against a baseline.
///
/// The status, most serious first:
/// 1. **incomparable** (exit 4): the baseline is a reference (published figures cannot gate), the two
///    share no cases, the result is from an interrupted run, the two hosts have different MMU kinds
///    or one of them is emulated (`HostFingerprint.mmu`, `emulated`), or no shared case was
///    measured on both sides and none failed.
/// 2. **caseFailed** (exit 3): a case of the result failed (guest crash, KVM error, failed check).
/// 3. **regression** (exit 2): a gated metric's verdict is "regressed" (see `ChangeDecision`).
/// 4. **incomparable** (exit 4) again when, without such a regression, some case was measured while
///    other processes used more than the suite's `max_host_busy` of the CPUs (see `HostLoad`).
/// 5. **pass** (exit 0): otherwise. Noisy, not-significant and unchanged metrics pass; so do
///    regressions of metrics that do not gate.
public struct GateOutcome: Sendable {
    public enum Status: String, Sendable, Equatable {
        case pass, regression, caseFailed = "case-failed", incomparable
    }

    public var status: Status
    public var report: ComparisonReport
    /// Gated metrics that regressed, worst first.
    public var regressions: [MetricComparison]
    /// Cases of the result that failed, with their reasons.
    public var failedCases: [CaseResult]
    /// Why the status is incomparable, when it is.
    public var problem: String?

    /// One line: "gate: FAIL: 2 gated regressions ... | 2 regressed, 0 improved, ...".
    public var summaryLine: String {
        let tally = ComparisonTally(report.comparison).summaryLine
        let sides = "\(report.comparison.before.label) -> \(report.comparison.after.label)"
        switch status {
        case .pass:
            return "gate: PASS: no significant regression of a gated metric (\(sides)): \(tally)"
        case .regression:
            let count = regressions.count
            return "gate: FAIL: \(count) significant regression\(count == 1 ? "" : "s") of gated metrics (\(sides)): \(tally)"
        case .caseFailed:
            return "gate: FAIL: \(failedCases.count) case\(failedCases.count == 1 ? "" : "s") failed (\(sides)): \(tally)"
        case .incomparable:
            return "gate: CANNOT DECIDE: \(problem ?? "nothing comparable") (\(sides))"
        }
    }
}

public enum Gate {
    /// Gates `result` against `baseline`. Errors are `.baseline` (exit 4) problems from the comparison.
    public static func evaluate(baseline: LoadedDocument, result: LoadedDocument,
                                settings: CompareSettings = CompareSettings()) throws(SuiteError) -> GateOutcome {
        if baseline.isReference {
            throw .baseline("\(baseline.label) is a reference baseline (published figures from other hardware, one value per metric): it can be compared with `kvmbench compare` but cannot gate")
        }
        let report = try SuiteComparison.compare(before: baseline, after: result, settings: settings)
        return decide(report, result: result.document)
    }

    /// The gate's status for a comparison of a baseline with `result`.
    public static func decide(_ report: ComparisonReport, result: ResultDocument) -> GateOutcome {
        let comparison = report.comparison
        let regressions = comparison.metrics.filter { $0.gate && $0.verdict == .regressed }
            .sorted { worsening($0) > worsening($1) }
        let failed = result.cases.filter { $0.status == .failed }
        var outcome = GateOutcome(status: .pass, report: report, regressions: regressions, failedCases: failed, problem: nil)
        if result.interrupted {
            outcome.status = .incomparable
            outcome.problem = "the result is from an interrupted run (\(result.cases.count) case(s) measured): cases it did not reach could hide a regression"
        } else if let difference = comparison.hostDifferences.first(where: { ["mmu", "emulated"].contains($0.field) }) {
            outcome.status = .incomparable
            outcome.problem = "the hosts differ in \(difference.field) (\(difference.before) in \(comparison.before.label), \(difference.after) in \(comparison.after.label)): a different MMU or an emulated CPU is a different host"
        } else if !failed.isEmpty {
            outcome.status = .caseFailed
        } else if !regressions.isEmpty {
            outcome.status = .regression
        } else if !report.busyCases.isEmpty {
            outcome.status = .incomparable
            outcome.problem = "the host was busy during \(report.busyCases.count) case(s) (other processes used more than \(SuiteComparison.percent(report.policy.maxHostBusy * 100)) of the CPUs): rerun on an idle host"
        } else if comparison.metrics.isEmpty {
            outcome.status = .incomparable
            outcome.problem = "no metric was measured on both sides (\(comparison.uncompared.count) case(s) not compared)"
        }
        return outcome
    }

    /// How much worse the after side is, positive when worse, whatever the polarity.
    static func worsening(_ metric: MetricComparison) -> Double {
        metric.better == .lower ? metric.change : -metric.change
    }

    /// The regressions as lines for the terminal, worst first, then the failed cases.
    public static func regressionLines(_ outcome: GateOutcome) -> [String] {
        var lines: [String] = []
        for metric in outcome.regressions {
            let label = "\(metric.scenario) [" + metric.parameters.sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "] \(metric.metric)"
            lines.append("REGRESSION \(label): \(UnitFormatting.format(metric.beforeMedian, unit: metric.unit)) -> "
                + "\(UnitFormatting.format(metric.afterMedian, unit: metric.unit)) (\(UnitFormatting.change(metric.change)), "
                + "threshold \(String(format: "%.0f%%", metric.threshold * 100))): \(metric.explanation)")
        }
        for item in outcome.failedCases {
            lines.append("FAILED \(item.key): \(item.reason ?? "no reason given")")
        }
        return lines
    }
}
