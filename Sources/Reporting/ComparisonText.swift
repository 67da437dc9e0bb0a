import Results

/// A comparison as terminal text, grouped as the HTML page is: the sides and host differences;
/// the verdict counts of the gated and the informational metrics; what changed (the gated
/// regressions and improvements with ratio [95% CI], threshold and p); the gated metrics the
/// samples could not decide, with the smallest change they could have detected; then per case its
/// gated metrics, the informational ones counted; last, what could not be compared and the summary
/// line. Informational metrics are listed only with `listInformational` (`compare --verbose`), or
/// when no metric is gated at all.
///
/// - Parameter colour: true only when writing to a TTY and `NO_COLOR` is unset.
public func renderComparisonText(_ comparison: DocumentComparison, colour: Bool, listInformational: Bool = false) -> String {
    let groups = ComparisonGroups(comparison)
    let changes = ComparisonGroups.ChangeListing(comparison, listInformational: listInformational)
    var out = sideLine("Before", comparison.before) + sideLine("After ", comparison.after)
    if !comparison.hostDifferences.isEmpty {
        out += "Hosts differ (numbers are not from the same machine):\n".styled(.yellow, colour: colour)
        for difference in comparison.hostDifferences {
            out += "  \(difference.field): \(difference.before) → \(difference.after)".terminalSafe + "\n"
        }
    }
    out += "\n" + verdictCounts(comparison)
    out += "\n" + whatChanged(changes, groups: groups, colour: colour)
    out += undecided(comparison, groups: groups, colour: colour)
    out += "\n" + perCase(groups, listing: changes.listsInformational, colour: colour)
    if !comparison.uncompared.isEmpty || !comparison.missingMetrics.isEmpty {
        out += "\n" + "Not compared".styled(.bold, colour: colour) + "\n"
        for item in comparison.missingMetrics {
            let label = ParameterDisplay.caseLabel(scenario: item.scenario, parameters: item.parameters)
            out += "  " + label.terminalSafe + ": " + "MISSING".styled(.red, colour: colour) + ": " + item.reason.terminalSafe + "\n"
        }
        for item in comparison.uncompared {
            let label = ParameterDisplay.caseLabel(scenario: item.scenario, parameters: item.parameters)
            let verdict = item.caseVerdict
            let word = verdict.failsGate ? verdict.label.uppercased() : item.kind
            let style: TextStyle = verdict.failsGate ? .red : .yellow
            out += "  " + label.terminalSafe + ": " + word.terminalSafe.styled(style, colour: colour)
                + ": " + (verdict.failsGate ? item.kind + ": " : "").terminalSafe + item.reason.terminalSafe + "\n"
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

/// "85 gated metrics:  35 regressed, 1 improved, …" and the same for the informational ones,
/// the counts starting in one column.
private func verdictCounts(_ comparison: DocumentComparison) -> String {
    let gated = comparison.metrics.filter(\.gate), informational = comparison.metrics.filter { !$0.gate }
    var lines: [(String, String)] = []
    if !gated.isEmpty { lines.append(("\(gated.count) gated metric\(gated.count == 1 ? "" : "s"):", ComparisonGroups.countsText(gated))) }
    if !informational.isEmpty { lines.append(("\(informational.count) informational:", ComparisonGroups.countsText(informational))) }
    let width = lines.map(\.0.count).max() ?? 0
    return lines.map { $0.0 + String(repeating: " ", count: width - $0.0.count) + "  " + $0.1 + "\n" }.joined()
}

private func heading(_ text: String, colour: Bool) -> String {
    text.styled(.bold, colour: colour) + "\n"
}

/// The case by the parameters that tell it apart from the scenario's other cases:
/// "demand-paging [vcpus=1 backing=thp]", the scenario alone when it has one case.
private func caseName(scenario: String, parameters: [String: String], groups: ComparisonGroups) -> String {
    let label = groups.shortCaseLabel(scenario: scenario, parameters: parameters)
    return label.isEmpty ? scenario : "\(scenario) [\(label)]"
}

/// The case as the summary tables name it: `caseName` cut to 48 characters with an ellipsis, so the
/// numbers stay on screen (the per-case section below heads each case with the whole name).
private func caseName(_ metric: MetricComparison, groups: ComparisonGroups) -> String {
    let name = caseName(scenario: metric.scenario, parameters: metric.parameters, groups: groups)
    return name.count > 48 ? String(name.prefix(47)) + "…" : name
}

private func verdictCell(_ metric: MetricComparison, markGated: Bool) -> TextTable.Cell {
    .init(metric.verdict.label + (markGated && !metric.gate ? " (not gated)" : ""), style: metric.verdict.textStyle)
}

private func whatChanged(_ changes: ComparisonGroups.ChangeListing, groups: ComparisonGroups, colour: Bool) -> String {
    var out = heading("What changed", colour: colour)
    if changes.listed.isEmpty {
        out += changes.noneText + "\n"
    } else {
        var table = TextTable(columns: [
            .init("Case"), .init("Metric"), .init("Change", .right), .init("Ratio [95% CI]", .right),
            .init("Threshold", .right), .init("p", .right), .init("Verdict"),
        ])
        for metric in changes.listed {
            table.append([
                .init(caseName(metric, groups: groups)), .init(metric.metric),
                .init(UnitFormatting.change(metric.change), style: metric.verdict.textStyle),
                .init(metric.ratioText), .init(metric.thresholdText), .init(UnitFormatting.pValue(metric.pValue)),
                verdictCell(metric, markGated: true),
            ])
        }
        out += table.render(colour: colour)
    }
    let folded = changes.folded
    if !folded.isEmpty {
        out += "+ \(folded.count) informational metric\(folded.count == 1 ? "" : "s") changed too "
            + "(\(ComparisonGroups.countsText(folded)); not gated, --verbose lists them)\n"
    }
    return out
}

private func undecided(_ comparison: DocumentComparison, groups: ComparisonGroups, colour: Bool) -> String {
    let undecided = ComparisonGroups.undecidedGated(comparison)
    guard !undecided.isEmpty else { return "" }
    var table = TextTable(columns: [
        .init("Case"), .init("Metric"), .init("Change", .right), .init("Ratio [95% CI]", .right),
        .init("Detectable", .right), .init("Verdict"),
    ])
    for metric in undecided {
        table.append([
            .init(caseName(metric, groups: groups)), .init(metric.metric),
            .init(UnitFormatting.change(metric.change), style: metric.verdict.textStyle),
            .init(metric.ratioText), .init(metric.detectableText), verdictCell(metric, markGated: false),
        ])
    }
    return "\n" + heading("Gated metrics the samples could not decide (\(undecided.count))", colour: colour)
        + "Detectable: the smallest change this comparison catches with probability 0.8; none: no change can reach alpha.\n"
        + table.render(colour: colour)
}

/// Every case under its own heading: its gated metrics, then its informational ones as one count
/// (or listed, when `listing`), in one table whose columns line up across the cases.
private func perCase(_ groups: ComparisonGroups, listing: Bool, colour: Bool) -> String {
    var table = TextTable(columns: [
        .init("Metric"), .init("Before", .right), .init("After", .right), .init("Change", .right),
        .init("Ratio [95% CI]", .right), .init("p", .right), .init("Detectable", .right), .init("Verdict"),
    ])
    func append(_ metric: MetricComparison) {
        table.append([
            .init("  " + metric.metric),
            .init(UnitFormatting.format(metric.beforeMedian, unit: metric.unit)),
            .init(UnitFormatting.format(metric.afterMedian, unit: metric.unit)),
            .init(UnitFormatting.change(metric.change), style: metric.verdict.textStyle),
            .init(metric.ratioText), .init(UnitFormatting.pValue(metric.pValue)), .init(metric.detectableText),
            verdictCell(metric, markGated: true),
        ])
    }
    for scenario in groups.scenarios {
        for item in scenario.cases {
            table.appendLine(.init(caseName(scenario: item.scenario, parameters: item.parameters, groups: groups), style: .bold))
            if item.gated.isEmpty { table.appendLine("  no gated metric in this case") }
            item.gated.forEach(append)
            if listing {
                item.informational.forEach(append)
            } else if !item.informational.isEmpty {
                table.appendLine(.init("  + \(item.informational.count) informational: "
                                       + ComparisonGroups.countsText(item.informational), style: .dim))
            }
        }
    }
    let what = listing ? "gated metrics first, then the informational ones" : "gated metrics; informational ones counted (--verbose lists them)"
    return heading("By case: " + what, colour: colour) + table.render(colour: colour)
}
