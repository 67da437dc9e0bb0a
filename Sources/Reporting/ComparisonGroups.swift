import Results

/// A comparison arranged the way a person reads it: scenario, then case, then metric, with the
/// gated metrics of each case first and the informational ones after them. HTML, Markdown and the
/// terminal share this grouping.
struct ComparisonGroups: Sendable {
    /// One case of one scenario and its compared metrics.
    struct Case: Sendable {
        var caseKey: String
        var scenario: String
        var parameters: [String: String]
        /// Gated metrics, in the document's order.
        var gated: [MetricComparison]
        /// Metrics that do not take part in gating, in the document's order.
        var informational: [MetricComparison]

        var metrics: [MetricComparison] { gated + informational }
    }

    /// One scenario's cases, in the document's order.
    struct Scenario: Sendable {
        var name: String
        var cases: [Case]
    }

    let scenarios: [Scenario]
    /// Which parameters tell the cases of each scenario apart.
    let distinguishing: [String: Set<String>]

    init(_ comparison: DocumentComparison) {
        var scenarioOrder: [String] = []
        var casesByScenario: [String: [Case]] = [:]
        var positions: [String: (scenario: String, index: Int)] = [:]
        for metric in comparison.metrics {
            if positions[metric.caseKey] == nil {
                if casesByScenario[metric.scenario] == nil { scenarioOrder.append(metric.scenario) }
                let index = casesByScenario[metric.scenario, default: []].count
                casesByScenario[metric.scenario, default: []].append(
                    Case(caseKey: metric.caseKey, scenario: metric.scenario, parameters: metric.parameters,
                         gated: [], informational: []))
                positions[metric.caseKey] = (metric.scenario, index)
            }
            let position = positions[metric.caseKey]!
            if metric.gate {
                casesByScenario[position.scenario]![position.index].gated.append(metric)
            } else {
                casesByScenario[position.scenario]![position.index].informational.append(metric)
            }
        }
        scenarios = scenarioOrder.map { Scenario(name: $0, cases: casesByScenario[$0] ?? []) }
        var distinguishing: [String: Set<String>] = [:]
        for scenario in scenarios {
            distinguishing[scenario.name] = ParameterDisplay.differingKeys(scenario.cases.map(\.parameters))
        }
        self.distinguishing = distinguishing
    }

    /// Every metric in reading order: scenario, case, gated before informational.
    var metrics: [MetricComparison] { scenarios.flatMap { $0.cases.flatMap(\.metrics) } }

    /// The gated metrics in reading order.
    var gatedMetrics: [MetricComparison] { scenarios.flatMap { $0.cases.flatMap(\.gated) } }

    /// The case as a short name: the parameters that tell it apart from the scenario's other cases,
    /// "defaults" when it is the scenario's only case.
    func shortCaseLabel(scenario: String, parameters: [String: String]) -> String {
        let keys = distinguishing[scenario] ?? []
        return keys.isEmpty ? "" : ParameterDisplay.summary(parameters, only: keys)
    }

    /// Regressions and improvements: gated ones first, then the worst regression and the best
    /// improvement first.
    static func decided(_ comparison: DocumentComparison) -> [MetricComparison] {
        let decided = comparison.metricsInReportOrder.filter { $0.verdict == .regressed || $0.verdict == .improved }
        return decided.filter(\.gate) + decided.filter { !$0.gate }
    }

    /// What a "What changed" section shows of the regressions and improvements: the ones listed
    /// row by row and the informational ones folded under their count.
    struct ChangeListing: Sendable {
        /// Whether informational metrics are listed one by one rather than counted: when the reader
        /// asked (`--verbose`), or when no metric is gated, so that they are all there is.
        var listsInformational: Bool
        var listed: [MetricComparison]
        var folded: [MetricComparison]

        init(_ comparison: DocumentComparison, listInformational asked: Bool) {
            listsInformational = asked || !comparison.metrics.contains(where: \.gate)
            let decided = ComparisonGroups.decided(comparison)
            listed = listsInformational ? decided : decided.filter(\.gate)
            folded = listsInformational ? [] : decided.filter { !$0.gate }
        }

        /// The sentence in place of an empty list.
        var noneText: String {
            "No \(listsInformational ? "" : "gated ")metric regressed or improved beyond its threshold."
        }
    }

    /// "1 regressed, 40 unchanged, 9 cannot decide": the verdicts of `metrics`, most urgent first.
    static func countsText(_ metrics: [MetricComparison]) -> String {
        let counts = Dictionary(grouping: metrics, by: \.verdict).mapValues(\.count)
        return counts.keys.sorted { $0.reportRank < $1.reportRank }.map { "\(counts[$0] ?? 0) \($0.label)" }.joined(separator: ", ")
    }

    /// Gated metrics the samples could not decide (cannot decide, noisy, not significant), the
    /// ones that could detect the smallest change first.
    static func undecidedGated(_ comparison: DocumentComparison) -> [MetricComparison] {
        comparison.metricsInReportOrder.filter { $0.gate && $0.verdict.isUndecided }
    }
}

extension Verdict {
    /// The samples did not decide: cannot decide, noisy, or not significant.
    var isUndecided: Bool { self == .cannotDecide || self == .noisy || self == .notSignificant }
}

extension MetricComparison {
    /// median(after) / median(before), nil when the before median is 0 or a median is not finite.
    var ratio: Double? {
        guard beforeMedian.isFinite, afterMedian.isFinite, beforeMedian != 0 else { return nil }
        return afterMedian / beforeMedian
    }

    /// The ratio's interval as a pair, when the comparison has one.
    var interval: (low: Double, high: Double)? {
        guard let ratioInterval, ratioInterval.count == 2, ratioInterval[0].isFinite, ratioInterval[1].isFinite else { return nil }
        return (ratioInterval[0], ratioInterval[1])
    }

    /// "1.12× [1.05, 1.21]", or the ratio alone without an interval, "n/a" without a ratio.
    var ratioText: String {
        guard let ratio else { return "n/a" }
        let point = NumberText.fixed(ratio, decimals: 2) + "×"
        guard let interval else { return point }
        return point + " [" + NumberText.fixed(interval.low, decimals: 2) + ", " + NumberText.fixed(interval.high, decimals: 2) + "]"
    }

    /// The threshold as a band: "±10%".
    var thresholdText: String { "±" + NumberText.fixed(threshold * 100, decimals: 0) + "%" }
}
