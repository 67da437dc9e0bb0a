import Foundation
import Results

/// Concise Markdown for CI job summaries (e.g. `$GITHUB_STEP_SUMMARY`): a verdict headline, the
/// regressions first in a compact table, unchanged metrics folded away, and every case that did not
/// run listed with its reason. Text from results is escaped.
public enum MarkdownReport {
    /// A comparison: headline, sides, host differences, the table, uncompared cases, summary line.
    public static func render(_ comparison: DocumentComparison) -> String {
        let tally = ComparisonTally(comparison)
        var out = "## kvmbench: " + headline(tally) + "\n\n"
        out += side("Before", comparison.before) + side("After", comparison.after) + "\n"
        if !comparison.hostDifferences.isEmpty {
            let differences = comparison.hostDifferences.map {
                escapeMarkdown("\($0.field): \($0.before) → \($0.after)")
            }
            out += "> **Hosts differ:** " + differences.joined(separator: "; ") + "\n\n"
        }
        let ordered = comparison.metricsInReportOrder
        let notable = ordered.filter { $0.verdict != .unchanged }
        let unchanged = ordered.filter { $0.verdict == .unchanged }
        if !notable.isEmpty { out += comparisonTable(notable) + "\n" }
        if !unchanged.isEmpty {
            out += "<details><summary>\(unchanged.count) unchanged</summary>\n\n"
                + comparisonTable(unchanged) + "\n</details>\n\n"
        }
        if !comparison.uncompared.isEmpty {
            out += "**Not compared**\n\n"
            for item in comparison.uncompared {
                let label = ParameterDisplay.caseLabel(scenario: item.scenario, parameters: item.parameters)
                out += "- " + escapeMarkdown(label) + ": **" + escapeMarkdown(item.kind) + "**: "
                    + escapeMarkdown(item.reason) + "\n"
            }
            out += "\n"
        }
        return out + tally.summaryLine + "\n"
    }

    /// A single run: headline with case counts, one row per metric, and cases that did not run.
    public static func render(_ document: ResultDocument) -> String {
        let tally = CaseTally(document.cases)
        let mark = tally.failed > 0 ? "❌" : "✅"
        var out = "## kvmbench on " + escapeMarkdown(document.host.hostname) + ": \(mark) " + tally.summaryLine + "\n\n"
        out += "Linux " + escapeMarkdown(document.host.kernelRelease) + " · " + escapeMarkdown(document.host.cpuModel)
            + " · kvmbench " + escapeMarkdown(document.kvmbench.version) + " · " + RunTiming(document).text + "\n\n"
        if document.interrupted {
            out += "> **Interrupted:** the run was stopped before every case had run.\n\n"
        }
        let measured = document.cases.filter { $0.status == .ok && !$0.metrics.isEmpty }
        if !measured.isEmpty {
            out += "| Case | Metric | Median | Min | Max | n |\n| --- | --- | ---: | ---: | ---: | ---: |\n"
            for item in measured {
                let label = escapeMarkdown(ParameterDisplay.caseLabel(scenario: item.scenario, parameters: item.parameters))
                for metric in item.metrics {
                    out += row([label, escapeMarkdown(metric.name)] + cells(for: metric))
                }
            }
            out += "\n"
        }
        let notRun = document.cases.filter { $0.status != .ok }.sorted { $0.status == .failed && $1.status != .failed }
        if !notRun.isEmpty {
            out += "**Not run**\n\n"
            for item in notRun {
                let label = ParameterDisplay.caseLabel(scenario: item.scenario, parameters: item.parameters)
                out += "- " + escapeMarkdown(label) + ": **" + item.status.rawValue + "**: "
                    + escapeMarkdown(item.reason ?? "no reason given") + "\n"
            }
        }
        return out
    }

    private static func headline(_ tally: ComparisonTally) -> String {
        switch tally.gatedRegressions {
        case 0 where tally.failed > 0: return "⚠️ no regressions, \(tally.failed) failed"
        case 0: return "✅ no regressions"
        case 1: return "❌ 1 regression"
        case let count: return "❌ \(count) regressions"
        }
    }

    private static func side(_ title: String, _ side: ComparisonSide) -> String {
        var line = "**\(title):** " + escapeMarkdown(side.label) + " (host " + escapeMarkdown(side.host.hostname)
            + ", kvmbench " + escapeMarkdown(side.kvmbench.version) + ")"
        if side.isReference { line += " — *reference: published figures, other hardware*" }
        return line + "  \n"
    }

    private static func comparisonTable(_ metrics: [MetricComparison]) -> String {
        var out = "| Test | Before | After | Change | p | Verdict |\n| --- | ---: | ---: | ---: | ---: | --- |\n"
        for metric in metrics {
            let verdict = metric.verdict == .regressed ? "**regressed**" : metric.verdict.label
            out += row([
                escapeMarkdown(ParameterDisplay.testLabel(metric)),
                UnitFormatting.format(metric.beforeMedian, unit: metric.unit),
                UnitFormatting.format(metric.afterMedian, unit: metric.unit),
                UnitFormatting.change(metric.change),
                UnitFormatting.pValue(metric.pValue).replacingOccurrences(of: "<", with: "&lt;"),
                verdict + (metric.gate ? "" : " (not gated)"),
            ])
        }
        return out
    }

    private static func cells(for metric: Metric) -> [String] {
        guard let range = SampleRange(metric) else { return ["n/a", "n/a", "n/a", "0"] }
        return [range.median, range.min, range.max].map { UnitFormatting.format($0, unit: metric.unit) }
            + [String(range.count)]
    }

    private static func row(_ cells: [String]) -> String {
        "| " + cells.joined(separator: " | ") + " |\n"
    }
}
