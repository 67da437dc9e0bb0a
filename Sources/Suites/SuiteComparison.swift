import Foundation
import Pipeline
import Results
import Statistics

/// How `compare` and `gate` compare two documents.
public struct CompareSettings: Sendable, Equatable {
    /// Replaces the default threshold of the suite's gate section (per-metric thresholds still apply).
    public var threshold: Double?
    /// Leave a kernel-release difference out of the host differences.
    public var ignoreKernel: Bool
    /// Make MMU-relevant host differences an error instead of a warning.
    public var requireSameHost: Bool
    /// Let `gate` compare across hosts that differ in more than the kernel release.
    public var allowOtherHost: Bool
    /// Repetitions of two documents, or runs of a host's history (see `Replication`).
    public var replication: Replication = .repetitions

    public init(threshold: Double? = nil, ignoreKernel: Bool = false, requireSameHost: Bool = false,
                allowOtherHost: Bool = false) {
        self.threshold = threshold
        self.ignoreKernel = ignoreKernel
        self.requireSameHost = requireSameHost
        self.allowOtherHost = allowOtherHost
    }
}

/// A comparison and what the user must be told about it.
public struct ComparisonReport: Sendable {
    public var comparison: DocumentComparison
    /// The gate policy used (thresholds, which metrics gate).
    public var policy: GatePolicy
    /// Where the policy came from: "suite record of X" or "defaults".
    public var policySource: String
    /// Lines to print loudly before the table (host differences, policy problems).
    public var warnings: [String]
    /// True when one side is a reference baseline: no significance is possible.
    public var involvesReference: Bool
    /// The notes of the reference side (stated results without numbers, caveats).
    public var referenceNotes: [String]
    /// Cases present on both sides.
    public var sharedCases: Int

    /// For a reference comparison: which side is the reference and where its figures come from.
    public var referenceSides: [String]
    /// Keys of the cases measured on a busy host (median `host_busy` above the policy's limit on
    /// either side): their metrics are noisy.
    public var busyCases: [String]
    /// Against a host's history: the metrics the policy gates that did not gate because the host is
    /// still collecting history for them (see `SuiteComparison.decideRunLevel`).
    public var collecting: [MetricComparison] = []
    /// Against a host's history: gated metrics whose run-to-run spread here is too large for any
    /// history up to the pool's size to rule a threshold-sized change in or out. They still fail
    /// the gate when they regress, but an undecided night of theirs is not inconclusive.
    public var undetectable: [MetricComparison] = []

    /// The WARNING block about host differences that change MMU behaviour, or nil when the hosts agree.
    /// Against a reference baseline every property differs, so the block names the reference instead.
    public var hostWarning: String? {
        if involvesReference {
            let fields = comparison.hostDifferences.map(\.field).joined(separator: ", ")
            return referenceSides.map { "WARNING: \($0)\n" }.joined()
                + "WARNING: other hardware, kernel and harness (differing: \(fields.isEmpty ? "nothing the reference states" : fields)): the numbers are set side by side for orientation only.\n"
        }
        guard !comparison.hostDifferences.isEmpty else { return nil }
        var lines = ["WARNING: the two sides were measured on hosts that differ in ways that change MMU behaviour;",
                     "WARNING: differences may come from the hosts, not from the change being tested:"]
        for difference in comparison.hostDifferences {
            lines.append("WARNING:   \(difference.field): \(difference.before) (\(comparison.before.label)) vs \(difference.after) (\(comparison.after.label))")
        }
        lines.append("WARNING: --require-same-host makes this an error; --ignore-kernel leaves out a kernel difference made on purpose.")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The line printed when a reference side is involved.
    public static let referenceLine = "reference: no significance possible: a reference side holds one published figure per metric, measured on other hardware with another harness; the Change column is for orientation only and nothing is gated"
}

/// Compares documents the way `kvmbench compare` and `kvmbench gate` do.
///
/// - Thresholds and the metrics that gate come from the suite's gate section, read from the suite
///   record of the before document (the baseline; else of the after document, else defaults: 5%,
///   alpha 0.05, spread limit 30%, 3 samples), or from the policy the caller gives (`gate` passes the
///   suite file it runs); `CompareSettings.threshold` replaces the default threshold.
/// - Cases match by `CaseResult.key` (scenario and every recorded parameter); when one side is a
///   reference baseline, by `ReferenceMatching`'s loose rule. Both sides must be as the current
///   declarations name them: `DocumentLoader` upgrades what it reads, and a caller comparing a
///   document it measured or built passes it through `CurrentDeclarations.upgrade` first.
/// - Unit, polarity and gating come from kvmbench's metric declarations
///   (`MetricDeclarationLookup.kvmbench`) and the policy's list of gated metrics, never from the
///   documents: a document with a metric that disagrees with its declaration, that its scenario
///   does not declare, or of a scenario kvmbench does not know is refused (`.baseline`, exit 4).
/// - Every metric on both sides gets `ChangeDecision`'s verdict; a metric of a reference comparison
///   gets "not significant", no p-value, no interval, and is not gated; a metric of a case measured
///   while other processes used more than `max_host_busy` of the CPUs (either side) is noisy.
public enum SuiteComparison {
    /// `policy` (with where it came from) replaces the policy read from the documents' suite records.
    public static func compare(before: LoadedDocument, after: LoadedDocument,
                               settings: CompareSettings = CompareSettings(),
                               policy given: (GatePolicy, String)? = nil) throws(SuiteError) -> ComparisonReport {
        var warnings: [String] = []
        var (policy, policySource) = given ?? policyFor(sides: [before, after], warnings: &warnings)
        if let threshold = settings.threshold { policy.threshold = threshold }

        var beforeDocument = before.document, afterDocument = after.document
        if let info = before.baseline?.reference, !after.isReference {
            beforeDocument = ReferenceMatching.align(reference: beforeDocument, info: info, to: afterDocument)
        } else if let info = after.baseline?.reference, !before.isReference {
            afterDocument = ReferenceMatching.align(reference: afterDocument, info: info, to: beforeDocument)
        }
        let beforeKeys = Set(beforeDocument.cases.map(\.key)), afterKeys = Set(afterDocument.cases.map(\.key))
        let shared = beforeKeys.intersection(afterKeys)
        guard !shared.isEmpty else {
            throw .baseline("\(before.label) and \(after.label) share no cases, so nothing can be compared: \(before.label) has \(describeCases(beforeDocument)); \(after.label) has \(describeCases(afterDocument))")
        }
        for (document, label) in [(beforeDocument, before.label), (afterDocument, after.label)] {
            if let refusal = MetricDeclarationLookup.kvmbench.refusal(of: document, label: label) { throw .baseline(refusal) }
        }

        var comparison = compareByScenario(before: beforeDocument, beforeLabel: before.label,
                                           after: afterDocument, afterLabel: after.label,
                                           policy: policy, ignoreKernel: settings.ignoreKernel,
                                           replication: settings.replication)
        comparison.before.isReference = before.isReference
        comparison.after.isReference = after.isReference
        let involvesReference = before.isReference || after.isReference
        if involvesReference {
            // A reference records only what its document states; a field it does not know ("-",
            // "unknown") is not a difference worth a line.
            let unknown: Set<String> = ["-", "unknown", "not stated"]
            comparison.hostDifferences.removeAll { difference in
                (before.isReference && unknown.contains(difference.before)) || (after.isReference && unknown.contains(difference.after))
            }
        }
        if involvesReference {
            // Nothing of a reference comparison gates: a missing or unsupported case is orientation only.
            comparison.missingMetrics = []
            for index in comparison.uncompared.indices { comparison.uncompared[index].verdict = .skipped }
        }
        for index in comparison.metrics.indices {
            var metric = comparison.metrics[index]
            if involvesReference {
                metric.verdict = .notSignificant
                metric.pValue = nil
                metric.ratioInterval = nil
                metric.gate = false
                metric.explanation = "reference: no significance possible (one published figure from other hardware); change "
                    + String(format: "%+.1f%%", metric.change * 100)
            }
            comparison.metrics[index] = metric
        }
        var collecting: [MetricComparison] = [], undetectable: [MetricComparison] = []
        switch settings.replication {
        case .runs(let runLimit, let look):
            (collecting, undetectable) = decideRunLevel(&comparison, alpha: look.alpha(policy.alpha), runLimit: runLimit,
                                                        historyRepetitions: look.historyRepetitions)
        case .pairedRounds: decidePairedRounds(&comparison, alpha: settings.replication.alpha(policy.alpha))
        case .repetitions: break
        }
        let busy = involvesReference ? [] : busyCases(before: beforeDocument, after: afterDocument, limit: policy.maxHostBusy)
        for index in comparison.metrics.indices {
            guard let load = busy.first(where: { $0.key == comparison.metrics[index].caseKey }) else { continue }
            comparison.metrics[index].verdict = .noisy
            comparison.metrics[index].explanation = "host busy: other processes used \(load.text) of the CPUs (limit \(percent(policy.maxHostBusy * 100))); "
                + comparison.metrics[index].explanation
        }
        if !busy.isEmpty {
            warnings.append("\(busy.count) case(s) were measured while other processes used more than \(percent(policy.maxHostBusy * 100)) of the CPUs; their metrics count as noisy (rerun on an idle host): "
                + busy.map { "\($0.key) (\($0.text))" }.joined(separator: "; "))
        }
        if settings.requireSameHost, !comparison.hostDifferences.isEmpty {
            let fields = comparison.hostDifferences.map { "\($0.field) (\($0.before) vs \($0.after))" }.joined(separator: ", ")
            throw .baseline("--require-same-host: \(before.label) and \(after.label) come from hosts that differ in \(fields)")
        }
        var notes: [String] = []
        for side in [before, after] {
            guard let info = side.baseline?.reference else { continue }
            notes.append("\(side.label): \(info.document) (\(info.side)): \(info.hardware), \(info.kernel); \(info.parameters)")
            notes += info.notes
            for item in side.document.cases {
                let label = item.scenario + " [" + item.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "]"
                notes += item.notes.map { "\(label): \($0)" }
            }
        }
        let sides = [before, after].compactMap { side in
            side.baseline?.reference.map { "\(side.label) is a reference baseline: published figures (\($0.side)) from \($0.hardware), \($0.kernel)" }
        }
        return ComparisonReport(comparison: comparison, policy: policy, policySource: policySource, warnings: warnings,
                                involvesReference: involvesReference, referenceNotes: notes, sharedCases: shared.count,
                                referenceSides: sides, busyCases: busy.map(\.key), collecting: collecting,
                                undetectable: undetectable)
    }

    /// Cases present on both sides whose median `host_busy` is above `limit` (a share) on either side.
    static func busyCases(before: ResultDocument, after: ResultDocument, limit: Double) -> [(key: String, text: String)] {
        func load(_ item: CaseResult?) -> Double? {
            item?.metric(named: HostLoad.metricName).map { Summary.median(of: $0.samples) }
        }
        let beforeByKey = Dictionary(before.cases.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        var out: [(String, String)] = []
        for item in after.cases {
            guard let other = beforeByKey[item.key] else { continue }
            let (b, a) = (load(other), load(item))
            guard max(b ?? 0, a ?? 0) > limit * 100 else { continue }
            out.append((item.key, "\(b.map(percent) ?? "?") before, \(a.map(percent) ?? "?") after"))
        }
        return out
    }

    static func percent(_ value: Double) -> String { String(format: "%.0f%%", value) }

    /// The gate policy from the suite record of the first of `sides` that has one (the before side,
    /// a baseline, first: a document's own record must not judge it leniently), else defaults.
    public static func policyFor(sides: [LoadedDocument], warnings: inout [String]) -> (GatePolicy, String) {
        for side in sides {
            guard let record = side.document.suite else { continue }
            do {
                let suite = try SuiteParser.parse(record.definition, file: "suite record of \(side.label)")
                return (suite.gate, "suite \(record.name) (recorded in \(side.label))")
            } catch {
                warnings.append("the suite record of \(side.label) cannot be read (\(error.message)); using default thresholds")
            }
        }
        return (GatePolicy(), "defaults")
    }

    /// Compares scenario by scenario, so that per-metric thresholds apply to their own scenario only.
    static func compareByScenario(before: ResultDocument, beforeLabel: String, after: ResultDocument, afterLabel: String,
                                  policy: GatePolicy, ignoreKernel: Bool, replication: Replication = .repetitions) -> DocumentComparison {
        var scenarios: [String] = []
        for item in after.cases + before.cases where !scenarios.contains(item.scenario) { scenarios.append(item.scenario) }
        var whole = DocumentComparison.compare(
            before: subset(before, nil), beforeLabel: beforeLabel, after: subset(after, nil), afterLabel: afterLabel,
            declarations: .kvmbench, options: policy.options(scenario: "", ignoreKernel: ignoreKernel, replication: replication))
        for scenario in scenarios {
            let part = DocumentComparison.compare(
                before: subset(before, scenario), beforeLabel: beforeLabel,
                after: subset(after, scenario), afterLabel: afterLabel,
                declarations: .kvmbench, options: policy.options(scenario: scenario, ignoreKernel: ignoreKernel, replication: replication))
            whole.metrics += part.metrics
            whole.uncompared += part.uncompared
            whole.missingMetrics += part.missingMetrics
        }
        return whole
    }

    /// The history gate's last step over the night's metrics (see `RunLevelDecision`):
    /// - a gated metric whose host is still collecting history for it (too few earlier runs, or
    ///   fewer than its spread needs and undecided) does not gate tonight: its explanation says so;
    /// - the p-values of the other gated metrics are Holm-adjusted as one family, so that the night's
    ///   chance of any false alarm stays at alpha however many metrics gate, and each is decided
    ///   again with its adjusted p.
    /// - a gated metric left undecided with no significant sign of a change (adjusted p not below
    ///   alpha) while the history holds fewer than `runLimit` runs is collecting too;
    /// - a gated metric left undecided whose spread no history up to `runLimit` runs could beat
    ///   (`runsNeeded` nil), or left undecided with no significant sign of a change once the history
    ///   holds `runLimit` runs (the Holm-adjusted family needs more than one metric alone), does not
    ///   gate either: it is listed as undetectable here, with the change this host could detect,
    ///   rather than making every night inconclusive. It still fails the gate when it regresses.
    /// Returns the gated metrics that are collecting, and those undetectable.
    static func decideRunLevel(_ comparison: inout DocumentComparison, alpha: Double, runLimit: Int,
                               historyRepetitions: Int? = nil) -> (collecting: [MetricComparison], undetectable: [MetricComparison]) {
        var collecting: [MetricComparison] = []
        for index in comparison.metrics.indices where comparison.metrics[index].gate {
            guard let series = comparison.metrics[index].runSeries, series.collecting else { continue }
            collecting.append(comparison.metrics[index])
            comparison.metrics[index].gate = false
            let needed = series.runsNeeded.map { "needs \($0)" } ?? "needs \(RunLevelDecision.defaultMinimumRuns) to estimate it"
            comparison.metrics[index].explanation = "collecting history (\(series.runs) earlier runs, \(needed)): not gated yet; "
                + comparison.metrics[index].explanation
        }
        let (family, adjusted) = holmOverGated(&comparison, member: { $0.runSeries != nil }) { metric, p in
            // The same decision as before (its p is in the family because it was not noisy).
            var decision = RunLevelDecision(runMedians: metric.beforeSamples, after: metric.afterSamples, better: metric.better,
                                            threshold: metric.threshold, alpha: alpha, maxCV: .infinity, runLimit: runLimit,
                                            historyRepetitions: historyRepetitions)
            decision.decide(p: p)
            return decision
        }
        // Undecided after the adjustment, with no significant sign of a change (adjusted p not below
        // alpha) while the history is still growing: more runs will decide it, so it collects
        // instead of making the night inconclusive (an inconclusive night joins no history, which
        // would then never grow).
        for (index, p) in zip(family, adjusted) where comparison.metrics[index].verdict == .cannotDecide && p >= alpha {
            guard var series = comparison.metrics[index].runSeries, series.runs < runLimit else { continue }
            series.collecting = true
            comparison.metrics[index].runSeries = series
            collecting.append(comparison.metrics[index])
            comparison.metrics[index].gate = false
            comparison.metrics[index].explanation = "collecting history (\(series.runs) earlier runs, up to \(runLimit)): "
                + "no sign of a change, not decided yet; " + comparison.metrics[index].explanation
        }
        // Undecided with no history that could decide it: its spread beats every history up to
        // `runLimit` runs (`runsNeeded` nil), or the history is full and, with no significant sign
        // of a change (adjusted p not below alpha), the Holm-adjusted family of the night still
        // cannot decide it (`runsNeeded` counts one metric alone).
        let unchanged = Dictionary(zip(family, adjusted).map { ($0, $1 >= alpha) }) { first, _ in first }
        var undetectable: [MetricComparison] = []
        for index in family where comparison.metrics[index].gate && comparison.metrics[index].verdict == .cannotDecide
            && (comparison.metrics[index].runSeries?.runsNeeded == nil
                || ((comparison.metrics[index].runSeries?.runs ?? 0) >= runLimit && unchanged[index] == true)) {
            undetectable.append(comparison.metrics[index])
            comparison.metrics[index].gate = false
            comparison.metrics[index].explanation = "not gated here: its runs vary too much for a "
                + "\(percent(comparison.metrics[index].threshold * 100)) threshold; "
                + comparison.metrics[index].explanation
        }
        return (collecting, undetectable)
    }

    /// Side B against side A over rounds (see `PairedRoundsDecision`): Holm's correction over the
    /// gated metrics, as the history gate applies it.
    static func decidePairedRounds(_ comparison: inout DocumentComparison, alpha: Double) {
        _ = holmOverGated(&comparison, member: { $0.pairedRounds != nil }) { metric, p in
            var decision = PairedRoundsDecision(a: metric.beforeSamples, b: metric.afterSamples, better: metric.better,
                                                threshold: metric.threshold, alpha: alpha)
            decision.decide(p: p)
            return decision
        }
    }

    /// Holm's correction over the gated metrics `member` selects that have a p-value: each is
    /// decided again by `redecide` with its adjusted p. Returns the family's indices and their
    /// adjusted p-values.
    static func holmOverGated(_ comparison: inout DocumentComparison, member: (MetricComparison) -> Bool,
                              redecide: (MetricComparison, Double) -> any MetricDecision) -> (family: [Int], adjusted: [Double]) {
        let family = comparison.metrics.indices.filter {
            comparison.metrics[$0].gate && comparison.metrics[$0].pValue != nil && member(comparison.metrics[$0])
        }
        let adjusted = Holm.adjusted(family.map { comparison.metrics[$0].pValue ?? 1 })
        for (index, p) in zip(family, adjusted) {
            let decision = redecide(comparison.metrics[index], p)
            comparison.metrics[index].verdict = decision.verdict
            comparison.metrics[index].explanation = decision.explanation
        }
        return (family, adjusted)
    }

    static func subset(_ document: ResultDocument, _ scenario: String?) -> ResultDocument {
        var copy = document
        copy.cases = document.cases.filter { $0.scenario == scenario }
        return copy
    }

    static func describeCases(_ document: ResultDocument) -> String {
        guard !document.cases.isEmpty else { return "no cases" }
        let keys = document.cases.map(\.key)
        let shown = keys.prefix(4).joined(separator: ", ")
        return "\(keys.count) case\(keys.count == 1 ? "" : "s") (\(shown)\(keys.count > 4 ? ", ..." : ""))"
    }
}
