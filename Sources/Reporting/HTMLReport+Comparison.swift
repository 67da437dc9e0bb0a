import Results

/// The comparison part of the HTML report: what was compared with what, how the hosts differ,
/// every compared metric (regressions first), before/after bars per scenario, and what could not
/// be compared.
struct ComparisonSection {
    let comparison: DocumentComparison

    var markup: Markup {
        Markup.element("section", ["class": "comparison", "id": "comparison"]) {
            Markup.element("h2") { "Comparison" }
            sides
            if !comparison.hostDifferences.isEmpty { hostDifferences }
            metricTable
            charts
            if !comparison.uncompared.isEmpty { uncompared }
            Markup.element("p", ["class": "tally"]) { ComparisonTally(comparison).summaryLine }
        }
    }

    private var sides: Markup {
        var table = HTMLTable(titles: ["Side", "Label", "Host", "Kernel", "CPU", "kvmbench"], className: "sides")
        for (name, side) in [("Before", comparison.before), ("After", comparison.after)] {
            let label = Markup.joined([
                .text(side.label),
                side.isReference ? HTMLPieces.badge(HTMLPieces.referenceText, className: "reference") : .empty,
            ])
            table.append([
                .init(name), .init(markup: label), .init(side.host.hostname), .init(side.host.kernelRelease),
                .init(side.host.cpuModel), .init(side.kvmbench.version + (side.kvmbench.gitCommit.map { " (\($0.prefix(12)))" } ?? "")),
            ])
        }
        return table.markup
    }

    private var hostDifferences: Markup {
        var table = HTMLTable(titles: ["Field", "Before", "After"], className: "host-differences")
        for difference in comparison.hostDifferences {
            table.append([.init(difference.field), .init(difference.before), .init(difference.after)])
        }
        return Markup.joined([
            HTMLPieces.banner("warn", title: "Hosts differ.") {
                "These fields change MMU behaviour, so part of every difference below may come from the host."
            },
            table.markup,
        ])
    }

    private var metricTable: Markup {
        var table = HTMLTable(titles: ["Test", "Before#", "After#", "Change#", "p#", "Verdict", "Why"], className: "compare")
        for metric in comparison.metricsInReportOrder {
            let test = Markup.joined([
                Markup.element("span", ["class": "scenario-name"]) { metric.scenario },
                .text(" "), HTMLPieces.parameters(metric.parameters), .text(" "),
                Markup.element("span", ["class": "metric-name"]) { metric.metric },
            ])
            let verdict = Markup.joined([
                HTMLPieces.badge(metric.verdict.label, className: metric.verdict.cssClass),
                metric.gate ? .empty : Markup.element("span", ["class": "muted"]) { " not gated" },
            ])
            table.append([
                .init(markup: test),
                .init(UnitFormatting.format(metric.beforeMedian, unit: metric.unit), numeric: true),
                .init(UnitFormatting.format(metric.afterMedian, unit: metric.unit), numeric: true),
                .init(UnitFormatting.change(metric.change), numeric: true, className: "change"),
                .init(UnitFormatting.pValue(metric.pValue), numeric: true),
                .init(markup: verdict),
                .init(metric.explanation, className: "why"),
            ], className: metric.verdict.cssClass)
        }
        return table.markup
    }

    private var charts: Markup {
        var scenarios: [String] = []
        for metric in comparison.metricsInReportOrder where !scenarios.contains(metric.scenario) {
            scenarios.append(metric.scenario)
        }
        let beforeLabel = comparison.before.label + (comparison.before.isReference ? " (reference)" : "")
        return Markup.element("div", ["class": "charts"]) {
            for scenario in scenarios {
                ComparisonBarChart(scenario: scenario,
                                   metrics: comparison.metricsInReportOrder.filter { $0.scenario == scenario },
                                   beforeLabel: beforeLabel, afterLabel: comparison.after.label).markup
            }
        }
    }

    private var uncompared: Markup {
        Markup.joined([
            Markup.element("h3") { "Not compared" },
            Markup.element("ul", ["class": "not-run"]) {
                for item in comparison.uncompared {
                    Markup.element("li") {
                        HTMLPieces.badge(item.kind, className: item.kind == "failed" ? "s-failed" : "s-unsupported")
                        " "
                        Markup.element("span", ["class": "scenario-name"]) { item.scenario }
                        " "
                        HTMLPieces.parameters(item.parameters)
                        Markup.element("div", ["class": "reason"]) { item.reason }
                    }
                }
            },
        ])
    }
}
