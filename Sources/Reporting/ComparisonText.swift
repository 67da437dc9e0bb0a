import Results

/// A comparison as terminal text, in the shape of a kernel cover letter's table:
/// `Test | Before | After | Change | p | Detectable | Verdict`, regressions first, then the cases that could not
/// be compared, then one summary line.
///
/// - Parameter colour: true only when writing to a TTY and `NO_COLOR` is unset.
public func renderComparisonText(_ comparison: DocumentComparison, colour: Bool) -> String {
    var out = sideLine("Before", comparison.before) + sideLine("After ", comparison.after)
    if !comparison.hostDifferences.isEmpty {
        out += "Hosts differ (numbers are not from the same machine):\n".styled(.yellow, colour: colour)
        for difference in comparison.hostDifferences {
            out += "  \(difference.field): \(difference.before) → \(difference.after)".terminalSafe + "\n"
        }
    }
    out += "\n" + comparisonTable(comparison).render(colour: colour)
    if !comparison.uncompared.isEmpty {
        out += "\nNot compared:\n"
        for item in comparison.uncompared {
            let label = ParameterDisplay.caseLabel(scenario: item.scenario, parameters: item.parameters)
            let style: TextStyle = item.kind == "failed" ? .red : .yellow
            out += "  " + label.terminalSafe + ": " + item.kind.terminalSafe.styled(style, colour: colour)
                + ": " + item.reason.terminalSafe + "\n"
        }
    }
    out += "\n" + ComparisonTally(comparison).summaryLine + "\n"
    return out
}

private func sideLine(_ title: String, _ side: ComparisonSide) -> String {
    var line = "\(title): \(side.label) (host \(side.host.hostname), kvmbench \(side.kvmbench.version))"
    if side.isReference { line += " [reference: published figures, other hardware]" }
    return line.terminalSafe + "\n"
}

private func comparisonTable(_ comparison: DocumentComparison) -> TextTable {
    var table = TextTable(columns: [
        .init("Test"), .init("Before", .right), .init("After", .right),
        .init("Change", .right), .init("p", .right), .init("Detectable", .right), .init("Verdict"),
    ])
    // Name each case by what tells it apart from the other cases of its scenario: a full
    // parameter list per row would bury the numbers.
    var distinguishing: [String: Set<String>] = [:]
    for (scenario, metrics) in Dictionary(grouping: comparison.metrics, by: \.scenario) {
        distinguishing[scenario] = ParameterDisplay.differingKeys(metrics.map(\.parameters))
    }
    for metric in comparison.metricsInReportOrder {
        let style = metric.verdict.textStyle
        let verdict = metric.verdict.label + (metric.gate ? "" : " (not gated)")
        let keys = distinguishing[metric.scenario] ?? []
        let label = keys.isEmpty ? "\(metric.scenario) \(metric.metric)"
            : "\(metric.scenario) [\(ParameterDisplay.summary(metric.parameters, only: keys))] \(metric.metric)"
        table.append([
            .init(label),
            .init(UnitFormatting.format(metric.beforeMedian, unit: metric.unit)),
            .init(UnitFormatting.format(metric.afterMedian, unit: metric.unit)),
            .init(UnitFormatting.change(metric.change), style: style),
            .init(UnitFormatting.pValue(metric.pValue)),
            .init(metric.detectableText),
            .init(verdict, style: style),
        ])
    }
    return table
}
