import Foundation
import Reporting
import Results

/// The regression gate's decision about a result against a baseline.
///
/// The policy (which metrics gate, thresholds, alpha) is the suite file's when the gate runs one,
/// else the baseline's recorded suite, else defaults: never the suite record of the result being
/// judged, which could have been run with a lax suite file.
///
/// The status, most serious first:
/// 1. **incomparable** (exit 4): the baseline is a reference (published figures cannot gate), the two
///    share no cases, the hosts differ in anything but the kernel release (see
///    `HostFingerprint.comparableFields`, which include the MMU kind and an emulated CPU; unless
///    `allowOtherHost`), the result is from an interrupted
///    run, or no shared case was measured on both sides and none failed.
/// 2. **caseFailed** (exit 3): a case of the result failed (guest crash, KVM error, failed check).
/// 3. **regression** (exit 2): a gated metric's verdict is "regressed" (see `ChangeDecision`), or the
///    result lacks something the baseline measured: a case (missing, or unsupported where the baseline
///    ran it) or a gated metric of a case measured on both sides.
/// 4. **incomparable** (exit 4) again when, without such a failure, some case was measured while
///    other processes used more than the suite's `max_host_busy` of the CPUs (see `HostLoad`).
/// 5. **inconclusive** (exit 5): a gated metric could not be decided (cannot-decide or noisy): the
///    samples cannot rule out a regression past its threshold.
/// 6. **pass** (exit 0): every gated metric is unchanged or improved. Regressions of metrics that
///    do not gate pass.
public struct GateOutcome: Sendable {
    public enum Status: String, Sendable, Equatable {
        case pass, regression, caseFailed = "case-failed", incomparable, inconclusive
    }

    public var status: Status
    public var report: ComparisonReport
    /// Gated metrics that regressed, worst first.
    public var regressions: [MetricComparison]
    /// Cases of the result that failed, with their reasons.
    public var failedCases: [CaseResult]
    /// What the baseline measured and the result lacks, one line each ("case X: not in the result").
    public var missing: [String]
    /// Gated metrics the samples could not decide (cannot-decide or noisy).
    public var undecided: [MetricComparison]
    /// Why the status is incomparable, when it is.
    public var problem: String?
    /// Gated metrics that did not gate because this host is still collecting history for them
    /// (a history gate only; see `RunLevelDecision`).
    public var collecting: [MetricComparison] = []
    /// Gated metrics this host's run-to-run spread lets no history decide at their thresholds
    /// (a history gate only; they fail the gate when they regress, never make it inconclusive).
    public var undetectable: [MetricComparison] = []

    /// "not decidable at their thresholds here: ..." naming each with the change this host could
    /// detect; nil when there is none.
    public var undetectableLine: String? {
        guard !undetectable.isEmpty else { return nil }
        let items = undetectable.map { metric in
            "\(metric.scenario) \(metric.metric) (threshold \(String(format: "%.0f%%", metric.threshold * 100)), "
                + "detectable \(metric.detectableChange.map { String(format: "%.0f%%", $0 * 100) } ?? "nothing"))"
        }
        return "not decidable at their thresholds on this host (runs vary too much; they fail the gate only when they regress): "
            + items.joined(separator: ", ")
    }

    /// True when nothing gated because every gated metric is still collecting history.
    public var onlyCollecting: Bool {
        status == .pass && !collecting.isEmpty && !report.comparison.metrics.contains { $0.gate }
    }

    /// "collecting history: 1 of 4 runs on this host; no verdict before run 4": what a history gate
    /// that could not judge yet says; nil when every gated metric gated.
    public var collectingLine: String? {
        guard !collecting.isEmpty else { return nil }
        let earlier = collecting.map { $0.runSeries?.runs ?? 0 }.min() ?? 0
        let needed = collecting.map { $0.runSeries?.runsNeeded ?? RunLevelDecision.defaultMinimumRuns }.max()
            ?? RunLevelDecision.defaultMinimumRuns
        let scope = onlyCollecting ? "" : " for \(collecting.count) gated metric\(collecting.count == 1 ? "" : "s")"
        if earlier >= needed {
            // Enough runs for a typical night, and tonight showed no sign of a change: more runs narrow it.
            return "collecting history\(scope): \(earlier + 1) runs on this host; no sign of a change, not decided yet "
                + "(each further run narrows it, up to --last)"
        }
        return "collecting history\(scope): \(earlier + 1) of \(needed + 1) runs on this host; no verdict before run \(needed + 1)"
            + (collecting.contains { $0.runSeries?.runsNeeded == nil } ? " (or later: the run-to-run spread is not known yet)" : "")
    }

    /// One line: "gate: FAIL: 2 gated regressions ... | 2 regressed, 0 improved, ...".
    public var summaryLine: String {
        let tally = ComparisonTally(report.comparison).summaryLine
        let sides = "\(report.comparison.before.label) -> \(report.comparison.after.label)"
        switch status {
        case .pass where onlyCollecting:
            return "gate: PASS: \(collectingLine ?? "collecting history") (\(sides))"
        case .pass:
            return "gate: PASS: every gated metric unchanged or improved (\(sides)): \(tally)"
        case .regression:
            var parts: [String] = []
            let count = regressions.count
            if count > 0 { parts.append("\(count) significant regression\(count == 1 ? "" : "s") of gated metrics") }
            if !missing.isEmpty { parts.append("\(missing.count) gated case(s) or metric(s) of the baseline missing from the result") }
            return "gate: FAIL: \(parts.joined(separator: "; ")) (\(sides)): \(tally)"
        case .caseFailed:
            return "gate: FAIL: \(failedCases.count) case\(failedCases.count == 1 ? "" : "s") failed (\(sides)): \(tally)"
        case .incomparable:
            return "gate: CANNOT DECIDE: \(problem ?? "nothing comparable") (\(sides))"
        case .inconclusive:
            return "gate: INCONCLUSIVE: \(undecided.count) gated metric\(undecided.count == 1 ? "" : "s") could not be decided "
                + "(too few samples, too much spread, or an interval across the threshold); no regression shown, none ruled out (\(sides)): \(tally)"
        }
    }
}

public enum Gate {
    /// Gates `result` against `baseline`, both as the current declarations name them (see
    /// `SuiteComparison.compare`). `suite` is the suite file the gate ran, when it ran one:
    /// its gate section is the policy; otherwise the baseline's recorded suite is. Errors are
    /// `.baseline` (exit 4) problems from the comparison.
    public static func evaluate(baseline: LoadedDocument, result: LoadedDocument,
                                settings: CompareSettings = CompareSettings(),
                                suite: SuiteDefinition? = nil) throws(SuiteError) -> GateOutcome {
        var warnings: [String] = []
        let policy = suite.map { ($0.gate, "suite \($0.name) (\($0.source))") }
            ?? SuiteComparison.policyFor(sides: [baseline], warnings: &warnings)
        try refuse(baseline: baseline, host: result.document.host, label: result.label, settings: settings)
        var report = try SuiteComparison.compare(before: baseline, after: result, settings: settings, policy: policy)
        report.warnings = warnings + report.warnings
        var outcome = decide(report, baseline: baseline.document, result: result.document)
        if case .runs = settings.replication {
            outcome.collecting = report.collecting
            outcome.undetectable = report.undetectable
        }
        return outcome
    }

    /// What refuses a gate against `baseline` for a run on `host` before anything is compared, and
    /// so before a suite runs (`kvmbench gate` checks the host it is on first): a reference baseline,
    /// or hosts that differ in more than the kernel release (unless `allowOtherHost`; an MMU or
    /// emulation difference is refused by `decide` all the same). Errors are `.baseline` (exit 4).
    public static func refuse(baseline: LoadedDocument, host: HostFingerprint, label: String,
                              settings: CompareSettings) throws(SuiteError) {
        if baseline.isReference {
            throw .baseline("\(baseline.label) is a reference baseline (published figures from other hardware, one value per metric): it can be compared with `kvmbench compare` but cannot gate")
        }
        let differences = baseline.document.host.mmuRelevantDifferences(from: host)
        if let mmu = differences.first(where: { ["mmu", "emulated"].contains($0.field) }) {
            throw .baseline("\(baseline.label) and \(label) differ in \(mmu.field) (\(mmu.mine) vs \(mmu.theirs)): a different MMU or an emulated CPU is a different host, so the gate does not compare them")
        }
        let otherHost = differences.filter { $0.field != HostFingerprint.kernelField }
        if !otherHost.isEmpty, !settings.allowOtherHost {
            let fields = otherHost.map { "\($0.field) (\($0.mine) vs \($0.theirs))" }.joined(separator: ", ")
            throw .baseline("\(baseline.label) and \(label) come from hosts that differ in more than the kernel: \(fields); numbers from another host can shift either way, so the gate does not compare them (--allow-other-host to compare anyway)")
        }
    }

    /// The gate's status for a comparison of `baseline` with `result`, from the comparison's
    /// per-case verdicts (`DocumentComparison.judgements`), the ones every report renders.
    public static func decide(_ report: ComparisonReport, baseline: ResultDocument, result: ResultDocument) -> GateOutcome {
        let comparison = report.comparison
        let judgements = comparison.judgements
        let regressions = comparison.metrics.filter { $0.gateVerdict == .regressed }
            .sorted { worsening($0) > worsening($1) }
        let undecided = comparison.metrics.filter { $0.gateVerdict == .inconclusive }
        let failedKeys = Set(judgements.filter { $0.verdict == .failed }.map(\.caseKey))
        var seen: Set<String> = []
        let failed = result.cases.filter { failedKeys.contains($0.key) && seen.insert($0.key).inserted }
        let missing = missingLines(judgements)
        var outcome = GateOutcome(status: .pass, report: report, regressions: regressions, failedCases: failed,
                                  missing: missing, undecided: undecided, problem: nil)
        if result.interrupted {
            outcome.status = .incomparable
            outcome.problem = "the result is from an interrupted run (\(result.cases.count) case(s) measured): cases it did not reach could hide a regression"
        } else if let difference = comparison.hostDifferences.first(where: { ["mmu", "emulated"].contains($0.field) }) {
            outcome.status = .incomparable
            outcome.problem = "the hosts differ in \(difference.field) (\(difference.before) in \(comparison.before.label), \(difference.after) in \(comparison.after.label)): a different MMU or an emulated CPU is a different host"
        } else if !failed.isEmpty {
            outcome.status = .caseFailed
        } else if !regressions.isEmpty || !missing.isEmpty {
            outcome.status = .regression
        } else if !report.busyCases.isEmpty {
            outcome.status = .incomparable
            outcome.problem = "the host was busy during \(report.busyCases.count) case(s) (other processes used more than \(SuiteComparison.percent(report.policy.maxHostBusy * 100)) of the CPUs): rerun on an idle host"
        } else if comparison.metrics.isEmpty {
            outcome.status = .incomparable
            outcome.problem = "no metric was measured on both sides (\(comparison.uncompared.count) case(s) not compared)"
        } else if !undecided.isEmpty {
            outcome.status = .inconclusive
        }
        return outcome
    }

    /// What the baseline measured (ok cases, and their gated metrics) that the result lacks, one
    /// line each: a case not in the result or unsupported there, or a gated metric missing from
    /// (or without samples in) a case measured on both sides. Failed cases are the caseFailed
    /// status's business.
    static func missingLines(_ judgements: [CaseJudgement]) -> [String] {
        var lines: [String] = []
        for item in judgements {
            switch item.verdict {
            case .missing where item.missingMetrics.isEmpty:
                lines.append("case \(item.caseKey): measured in the baseline, not in the result")
            case .newlyUnsupported:
                lines.append("case \(item.caseKey): measured in the baseline, unsupported in the result: \(item.reason)")
            default:
                break
            }
            lines += item.missingMetrics.map { "case \(item.caseKey): \($0.reason)" }
        }
        return lines
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
        for line in outcome.missing { lines.append("MISSING \(line)") }
        if outcome.status == .inconclusive || outcome.status == .pass {
            for metric in outcome.undecided {
                let label = "\(metric.scenario) [" + metric.parameters.sorted { $0.key < $1.key }
                    .map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "] \(metric.metric)"
                lines.append("UNDECIDED \(label): \(metric.verdict.rawValue), detectable change \(metric.detectableText) "
                    + "at threshold \(String(format: "%.0f%%", metric.threshold * 100)): \(metric.explanation)")
            }
        }
        return lines
    }
}
