import Results

/// The comparison part of the HTML report, in reading order: what was compared with what and how
/// the hosts differ; a summary (verdicts of the gated and informational metrics; what regressed or
/// improved with its ratio, interval and p, the gated metrics listed and the informational ones
/// folded with their count; which gated metrics the samples could not decide and the smallest
/// change they could have detected); a forest plot of the gated metrics against their thresholds;
/// then every case in one compact table, gated metrics first and the informational ones folded;
/// last, what could not be compared.
///
/// Comparison tables have a fixed layout: the metric column takes what is left and cuts long
/// names with an ellipsis, so every row stays one line high and the verdict column stays on screen
/// down to a 1024 px window.
struct ComparisonSection {
    let comparison: DocumentComparison

    var markup: Markup {
        let groups = ComparisonGroups(comparison)
        return Markup.element("section", ["class": "comparison", "id": "comparison"]) {
            Markup.element("h2") { "Comparison" }
            sides
            if !comparison.hostDifferences.isEmpty { hostDifferences }
            overview(groups)
            changes(groups)
            undecided(groups)
            forest(groups)
            perCase(groups)
            if !comparison.uncompared.isEmpty || !comparison.missingMetrics.isEmpty { uncompared }
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

    // MARK: summary

    /// Verdict counts of the gated and of the informational metrics, as badges.
    private func overview(_ groups: ComparisonGroups) -> Markup {
        let gated = comparison.metrics.filter(\.gate), informational = comparison.metrics.filter { !$0.gate }
        return Markup.element("dl", ["class": "overview"]) {
            if !gated.isEmpty {
                Markup.element("dt") { "\(gated.count) gated metric\(gated.count == 1 ? "" : "s")" }
                Markup.element("dd") { Self.verdictBadges(gated) }
            }
            if !informational.isEmpty {
                Markup.element("dt") { "\(informational.count) informational" }
                Markup.element("dd") { Self.verdictBadges(informational) }
            }
        }
    }

    /// "2 regressed · 40 unchanged · 9 cannot decide" as coloured pills, most urgent first.
    static func verdictBadges(_ metrics: [MetricComparison]) -> Markup {
        let counts = Dictionary(grouping: metrics, by: \.verdict).mapValues(\.count)
        let verdicts = counts.keys.sorted { $0.reportRank < $1.reportRank }
        return .joined(verdicts.map { verdict in
            HTMLPieces.badge("\(counts[verdict] ?? 0) \(verdict.label)", className: verdict.cssClass)
        })
    }

    /// The gated regressions and improvements; the informational ones folded beneath with their count
    /// (listed openly only when no metric is gated).
    private func changes(_ groups: ComparisonGroups) -> Markup {
        let changes = ComparisonGroups.ChangeListing(comparison, listInformational: false)
        let listed = changes.listed, folded = changes.folded
        let columns: [CompareTable.Column] = [.caseName, .metric, .change, .ratio, .threshold, .p, .verdict]
        return Markup.joined([
            Markup.element("h3") { "What changed" },
            listed.isEmpty
                ? Markup.element("p", ["class": "muted"]) { changes.noneText }
                : CompareTable(columns: columns, className: "changes", metrics: listed, groups: groups, markGated: true).markup,
            folded.isEmpty ? .empty : Markup.element("details", ["class": "informational changes-informational"]) {
                Markup.element("summary") {
                    "\(folded.count) informational metric\(folded.count == 1 ? "" : "s") changed too (not gated) "
                    Self.verdictBadges(folded)
                }
                CompareTable(columns: columns, className: "changes informational", metrics: folded, groups: groups,
                             markGated: true).markup
            },
        ])
    }

    private func undecided(_ groups: ComparisonGroups) -> Markup {
        let undecided = ComparisonGroups.undecidedGated(comparison)
        guard !undecided.isEmpty else { return .empty }
        return Markup.joined([
            Markup.element("h3") {
                "Gated metrics the samples could not decide"
                Markup.element("span", ["class": "muted count"]) {
                    " · Detectable: the smallest change this comparison catches with probability 0.8; none: no change can reach alpha"
                }
            },
            CompareTable(columns: [.caseName, .metric, .change, .ratio, .threshold, .detectable, .verdict], className: "undecided",
                         metrics: undecided, groups: groups, markGated: false).markup,
        ])
    }

    private func forest(_ groups: ComparisonGroups) -> Markup {
        let gated = groups.gatedMetrics.filter { $0.ratio != nil }
        let rows = gated.isEmpty ? Array(groups.metrics.filter { $0.ratio != nil && $0.verdict != .unchanged }.prefix(60)) : gated
        guard !rows.isEmpty else { return .empty }
        let what = gated.isEmpty ? "metrics that did not stay unchanged (no metric is gated)" : "gated metrics"
        return Markup.element("div", ["class": "charts"]) {
            ComparisonForestChart(rows: rows, groups: groups,
                                  title: "Change of the \(rows.count) \(what)",
                                  subtitle: "\(comparison.before.label) → \(comparison.after.label)").markup
        }
    }

    // MARK: per case

    private func perCase(_ groups: ComparisonGroups) -> Markup {
        Markup.joined([
            Markup.element("h3") { "Every compared metric, by case" },
            .joined(groups.scenarios.enumerated().map { position, scenario in
                Markup.element("div", ["class": "scenario-block", "id": "comparison-scenario-\(position + 1)"]) {
                    for item in scenario.cases { caseBlock(item, groups: groups) }
                }
            }),
        ])
    }

    private func caseBlock(_ item: ComparisonGroups.Case, groups: ComparisonGroups) -> Markup {
        let columns: [CompareTable.Column] = [.metric, .before, .after, .change, .ratio, .p, .detectable, .verdict]
        return Markup.element("div", ["class": "case-block", "data-case": item.caseKey]) {
            Markup.element("div", ["class": "case-head"]) {
                Markup.element("span", ["class": "scenario-name"]) { item.scenario }
                " "
                HTMLPieces.parameters(item.parameters)
                " "
                Self.verdictBadges(item.gated)
            }
            if item.gated.isEmpty {
                Markup.element("p", ["class": "muted"]) { "No gated metrics in this case." }
            } else {
                CompareTable(columns: columns, className: "case-metrics gated", metrics: item.gated, groups: groups,
                             markGated: false).markup
            }
            if !item.informational.isEmpty {
                Markup.element("details", ["class": "informational"]) {
                    Markup.element("summary") {
                        "\(item.informational.count) informational metric\(item.informational.count == 1 ? "" : "s") "
                        Self.verdictBadges(item.informational)
                    }
                    CompareTable(columns: columns, className: "case-metrics informational", metrics: item.informational,
                                 groups: groups, markGated: false).markup
                }
            }
        }
    }

    private var uncompared: Markup {
        Markup.joined([
            Markup.element("h3") { "Not compared" },
            Markup.element("ul", ["class": "not-run"]) {
                for item in comparison.missingMetrics {
                    Markup.element("li") {
                        HTMLPieces.badge("missing", className: "s-failed")
                        " "
                        Markup.element("span", ["class": "scenario-name"]) { item.scenario }
                        " "
                        HTMLPieces.parameters(item.parameters)
                        Markup.element("div", ["class": "reason"]) { item.reason + " (fails the gate)" }
                    }
                }
                for item in comparison.uncompared {
                    Markup.element("li") {
                        HTMLPieces.badge(item.caseVerdict.failsGate ? item.caseVerdict.label : item.kind,
                                         className: item.caseVerdict.failsGate ? "s-failed" : "s-unsupported")
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

/// A compact comparison table: one line per metric, verdict last, the full text of anything cut
/// short in the cell's tooltip. Rows carry the verdict's class; the verdict cell is `td.verdict`.
/// Written by hand rather than with `HTMLTable` to keep a row to a few hundred bytes: alignment
/// and widths come from the columns' classes in the style sheet.
struct CompareTable {
    enum Column: String {
        case caseName = "case", metric, before, after, change, ratio, threshold, p, detectable, verdict

        var title: String {
            switch self {
            case .caseName: return "Case"
            case .metric: return "Metric"
            case .before: return "Before"
            case .after: return "After"
            case .change: return "Change"
            case .ratio: return "Ratio [95% CI]"
            case .threshold: return "Threshold"
            case .p: return "p"
            case .detectable: return "Detectable"
            case .verdict: return "Verdict"
            }
        }
    }

    let columns: [Column]
    let className: String
    let metrics: [MetricComparison]
    let groups: ComparisonGroups
    /// Say "not gated" beside the verdict of informational metrics.
    let markGated: Bool

    var markup: Markup {
        Markup.element("table", ["class": "compare " + className]) {
            Markup.element("thead") {
                Markup.element("tr") {
                    for column in columns { Markup.element("th", ["class": "c-" + column.rawValue]) { column.title } }
                }
            }
            Markup.element("tbody") {
                for metric in metrics {
                    Markup.element("tr", ["class": metric.verdict.cssClass]) {
                        for column in columns { cell(column, metric) }
                    }
                }
            }
        }
    }

    private func cell(_ column: Column, _ metric: MetricComparison) -> Markup {
        switch column {
        case .caseName:
            let label = groups.shortCaseLabel(scenario: metric.scenario, parameters: metric.parameters)
            return Markup.element("td", ["title": ParameterDisplay.caseLabel(scenario: metric.scenario, parameters: metric.parameters)]) {
                Markup.element("span", ["class": "scenario-name"]) { metric.scenario }
                label.isEmpty ? "" : " " + label
            }
        case .metric:
            return Markup.element("td", ["class": "metric-name", "title": metric.metric]) { metric.metric }
        case .before:
            return Markup.element("td") { UnitFormatting.format(metric.beforeMedian, unit: metric.unit) }
        case .after:
            return Markup.element("td") { UnitFormatting.format(metric.afterMedian, unit: metric.unit) }
        case .change:
            return Markup.element("td", ["class": "change"]) { UnitFormatting.change(metric.change) }
        case .ratio:
            return Markup.element("td") { metric.ratioText }
        case .threshold:
            return Markup.element("td") { metric.thresholdText }
        case .p:
            return Markup.element("td") { UnitFormatting.pValue(metric.pValue) }
        case .detectable:
            return Markup.element("td") { metric.detectableText }
        case .verdict:
            return Markup.element("td", ["class": "verdict", "title": metric.explanation]) {
                Markup.element("span", ["class": "badge"]) { metric.verdict.label }
                if markGated && !metric.gate { Markup.element("span", ["class": "muted"]) { " not gated" } }
            }
        }
    }
}
