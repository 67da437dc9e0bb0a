import Foundation
import Results

/// What a lab's dashboard should conclude about one exported figure.
/// A comparison's figures carry the gate's verdict (`DocumentComparison.judgements`), so no
/// export shows a pass where the gate fails.
public enum FigureOutcome: String, Sendable, Equatable {
    /// Measured, with no verdict to give (a plain run).
    case measured
    /// Compared: unchanged or improved.
    case passed
    /// Fails the gate: a significant regression, a case that failed (guest crash, failed check,
    /// KVM error), or a case or gated metric the baseline measured and the result lacks or could
    /// not run (missing, newly unsupported).
    case failed
    /// Compared, and the samples could not decide (noisy, too few, an interval across the
    /// threshold): no regression shown, none ruled out; the gate is inconclusive, not passed.
    case inconclusive
    /// Nothing to judge: the host could not run the case (on both sides, or in a plain run), or
    /// the baseline does not have it.
    case skipped
}

/// One figure of one case as the fleet formats carry it (KCIDB, Bencher, Otava, LAVA): the case,
/// the metric and its median with an interval, or a case that produced no numbers, with its
/// outcome. Only gated metrics are exported: they are the ones a gate decides on.
public struct FleetFigure: Sendable, Equatable {
    public var scenario: String
    public var parameters: [String: String]
    /// nil for a case without numbers (unsupported, failed, missing on one side).
    public var metric: String?
    /// The metric's unit; nil with `metric`.
    public var unit: MetricUnit?
    public var value: Double?
    /// Interval of the value (bootstrap interval of the median, else min...max), when known.
    public var low: Double?
    public var high: Double?
    public var outcome: FigureOutcome
    /// One sentence: the verdict's explanation, or the reason a case has no numbers.
    public var message: String

    /// `scenario[key=value,...]`: the identity `compare` matches cases by.
    public var caseKey: String {
        CaseResult(scenario: scenario, parameters: parameters).key
    }

    /// The figures of a run: every gated metric of every ok case (`measured`), one figure per
    /// unsupported case (`skipped`) and per failed case (`failed`).
    public static func figures(of document: ResultDocument) -> [FleetFigure] {
        document.cases.flatMap { item -> [FleetFigure] in
            switch item.status {
            case .ok:
                return item.metrics.filter(\.gate).map { metric in
                    let interval = metric.summary?.medianInterval ?? [metric.samples.min(), metric.samples.max()].compactMap { $0 }
                    return FleetFigure(scenario: item.scenario, parameters: item.parameters, metric: metric.name,
                                       unit: metric.unit, value: metric.median,
                                       low: interval.count == 2 ? interval[0] : nil,
                                       high: interval.count == 2 ? interval[1] : nil,
                                       outcome: .measured,
                                       message: "\(metric.samples.count) samples, median \(UnitFormatting.format(metric.median, unit: metric.unit))")
                }
            case .unsupported:
                return [FleetFigure(scenario: item.scenario, parameters: item.parameters, metric: nil, unit: nil,
                                    value: nil, outcome: .skipped, message: item.reason ?? "unsupported")]
            case .failed:
                return [FleetFigure(scenario: item.scenario, parameters: item.parameters, metric: nil, unit: nil,
                                    value: nil, outcome: .failed, message: item.reason ?? "failed")]
            }
        }
    }

    /// The figures of a comparison (or a gate): every gated metric with the after side's median
    /// and the verdict as outcome, and every case that could not be compared.
    public static func figures(of comparison: DocumentComparison) -> [FleetFigure] {
        let compared = comparison.metricsInReportOrder.filter(\.gate).map { metric in
            FleetFigure(scenario: metric.scenario, parameters: metric.parameters, metric: metric.metric,
                        unit: metric.unit, value: metric.afterMedian,
                        low: metric.afterSamples.min(), high: metric.afterSamples.max(),
                        outcome: outcome(of: metric.verdict),
                        message: "\(metric.verdict.label): before \(UnitFormatting.format(metric.beforeMedian, unit: metric.unit)), "
                            + "after \(UnitFormatting.format(metric.afterMedian, unit: metric.unit)), "
                            + "change \(UnitFormatting.change(metric.change)); \(metric.explanation)")
        }
        let missing = comparison.missingMetrics.map { item in
            FleetFigure(scenario: item.scenario, parameters: item.parameters, metric: item.metric, unit: nil, value: nil,
                        outcome: .failed, message: "missing: \(item.reason)")
        }
        let uncompared = comparison.uncompared.map { item in
            FleetFigure(scenario: item.scenario, parameters: item.parameters, metric: nil, unit: nil, value: nil,
                        outcome: outcome(of: item.caseVerdict), message: "\(item.caseVerdict.label): \(item.kind): \(item.reason)")
        }
        return compared + missing + uncompared
    }

    /// A regression fails; an improvement or a change within the threshold passes; a verdict that
    /// is not a decision (not significant, noisy, cannot decide) is inconclusive, never a pass.
    static func outcome(of verdict: Verdict) -> FigureOutcome {
        switch verdict {
        case .regressed: .failed
        case .improved, .unchanged: .passed
        case .notSignificant, .noisy, .cannotDecide: .inconclusive
        }
    }

    /// A case the gate fails on fails; one it cannot decide is inconclusive; one with nothing to
    /// judge is skipped.
    static func outcome(of verdict: CaseVerdict) -> FigureOutcome {
        switch verdict {
        case .failed, .regressed, .missing, .newlyUnsupported: .failed
        case .inconclusive: .inconclusive
        case .passed: .passed
        case .notGated: .measured
        case .skipped: .skipped
        }
    }
}

/// Names that engines with a restricted alphabet accept: every run of characters other than
/// letters, digits, `_`, `-` and `.` becomes one `_`.
func engineName(_ text: String, keepingDots: Bool = true) -> String {
    var out = ""
    var pendingSeparator = false
    for scalar in text.unicodeScalars {
        let allowed = (scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar)))
            || scalar == "_" || scalar == "-" || (keepingDots && scalar == ".")
        if allowed {
            if pendingSeparator && !out.isEmpty { out.append("_") }
            pendingSeparator = false
            out.unicodeScalars.append(scalar)
        } else {
            pendingSeparator = true
        }
    }
    return out.isEmpty ? "_" : out
}
