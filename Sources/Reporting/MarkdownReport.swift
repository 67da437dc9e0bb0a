import Foundation
import Results

/// Concise Markdown for CI job summaries (e.g. `$GITHUB_STEP_SUMMARY`): a verdict headline, the
/// regressions first in a compact table, unchanged metrics folded away, and every case that did not
/// run listed with its reason. Text from results is escaped.
public enum MarkdownReport {
    /// A comparison, grouped as the HTML page is: headline, sides, host differences, verdict
    /// counts of the gated and informational metrics, what regressed or improved (ratio, interval,
    /// p; gated listed, informational folded with their count), the gated metrics that could not be decided (with the smallest detectable change), then
    /// every case's metrics folded in `<details>` (gated first), uncompared cases, summary line.
    public static func render(_ comparison: DocumentComparison) -> String {
        let tally = ComparisonTally(comparison)
        let groups = ComparisonGroups(comparison)
        var out = "## kvmbench: " + headline(tally) + "\n\n"
        out += side("Before", comparison.before) + side("After", comparison.after) + "\n"
        if !comparison.hostDifferences.isEmpty {
            let differences = comparison.hostDifferences.map {
                escapeMarkdown("\($0.field): \($0.before) → \($0.after)")
            }
            out += "> **Hosts differ:** " + differences.joined(separator: "; ") + "\n\n"
        }
        let gated = comparison.metrics.filter(\.gate), informational = comparison.metrics.filter { !$0.gate }
        if !gated.isEmpty { out += "**\(gated.count) gated metrics:** " + ComparisonGroups.countsText(gated) + "  \n" }
        if !informational.isEmpty { out += "**\(informational.count) informational:** " + ComparisonGroups.countsText(informational) + "\n" }
        out += "\n"
        let changes = ComparisonGroups.ChangeListing(comparison, listInformational: false)
        let listed = changes.listed, folded = changes.folded
        out += "**What changed**\n\n"
        if listed.isEmpty {
            out += changes.noneText + "\n\n"
        } else {
            out += changesTable(listed) + "\n"
        }
        if !folded.isEmpty {
            out += "<details><summary>\(folded.count) informational metric\(folded.count == 1 ? "" : "s") changed too ("
                + ComparisonGroups.countsText(folded) + "; not gated)</summary>\n\n" + changesTable(folded) + "\n</details>\n\n"
        }
        let undecided = ComparisonGroups.undecidedGated(comparison)
        if !undecided.isEmpty {
            out += "**Gated metrics the samples could not decide**\n\n"
                + "| Test | Change | Ratio [95% CI] | Detectable | Verdict |\n| --- | ---: | ---: | ---: | --- |\n"
            for metric in undecided {
                out += row([escapeMarkdown(ParameterDisplay.testLabel(metric)), UnitFormatting.change(metric.change),
                            metric.ratioText, metric.detectableText, verdictText(metric)])
            }
            out += "\n"
        }
        if !comparison.metrics.isEmpty {
            out += "<details><summary>Every compared metric, by case (\(comparison.metrics.count))</summary>\n\n"
            for scenario in groups.scenarios {
                for item in scenario.cases {
                    out += "**" + escapeMarkdown(ParameterDisplay.caseLabel(scenario: item.scenario, parameters: item.parameters)) + "**\n\n"
                    out += caseTable(item.metrics) + "\n"
                }
            }
            out += "</details>\n\n"
        }
        if !comparison.uncompared.isEmpty || !comparison.missingMetrics.isEmpty {
            out += "**Not compared**\n\n"
            for item in comparison.missingMetrics {
                let label = ParameterDisplay.caseLabel(scenario: item.scenario, parameters: item.parameters)
                out += "- " + escapeMarkdown(label) + ": **MISSING** (fails the gate): " + escapeMarkdown(item.reason) + "\n"
            }
            for item in comparison.uncompared {
                let label = ParameterDisplay.caseLabel(scenario: item.scenario, parameters: item.parameters)
                let verdict = item.caseVerdict
                let head = verdict.failsGate
                    ? "**" + escapeMarkdown(verdict.label.uppercased()) + "** (fails the gate): " + escapeMarkdown(item.kind)
                    : "**" + escapeMarkdown(item.kind) + "**"
                out += "- " + escapeMarkdown(label) + ": " + head + ": " + escapeMarkdown(item.reason) + "\n"
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

    /// Regressions and improvements: `| Test | Change | Ratio [95% CI] | p | Verdict |`.
    private static func changesTable(_ metrics: [MetricComparison]) -> String {
        var out = "| Test | Change | Ratio [95% CI] | p | Verdict |\n| --- | ---: | ---: | ---: | --- |\n"
        for metric in metrics {
            out += row([escapeMarkdown(ParameterDisplay.testLabel(metric)), UnitFormatting.change(metric.change),
                        metric.ratioText, pText(metric), verdictText(metric)])
        }
        return out
    }

    /// One case's metrics, gated first: `| Metric | Before | After | Change | p | Detectable | Verdict |`.
    private static func caseTable(_ metrics: [MetricComparison]) -> String {
        var out = "| Metric | Before | After | Change | p | Detectable | Verdict |\n| --- | ---: | ---: | ---: | ---: | ---: | --- |\n"
        for metric in metrics {
            out += row([
                escapeMarkdown(metric.metric),
                UnitFormatting.format(metric.beforeMedian, unit: metric.unit),
                UnitFormatting.format(metric.afterMedian, unit: metric.unit),
                UnitFormatting.change(metric.change), pText(metric), metric.detectableText, verdictText(metric),
            ])
        }
        return out
    }

    private static func verdictText(_ metric: MetricComparison) -> String {
        (metric.verdict == .regressed ? "**regressed**" : metric.verdict.label) + (metric.gate ? "" : " (not gated)")
    }

    private static func pText(_ metric: MetricComparison) -> String {
        UnitFormatting.pValue(metric.pValue).replacingOccurrences(of: "<", with: "&lt;")
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
