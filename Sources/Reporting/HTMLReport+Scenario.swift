import Results

/// One scenario's results on one host: the metric table (with before/change/verdict columns when a
/// comparison applies), scaling curves, phase breakdowns, cases that did not run, and per-case KVM
/// stats deltas.
struct ScenarioSection {
    let scenario: String
    let cases: [CaseResult]
    let comparisons: ComparisonIndex?
    /// Only charts and the cases that did not run: the comparison shows the metrics.
    var compact = false
    let anchor: String

    var markup: Markup {
        let measured = cases.filter { $0.status == .ok && !$0.metrics.isEmpty }
        let notRun = cases.filter { $0.status != .ok }
        let scaling = ScalingPlot.plots(scenario: scenario, cases: cases)
        let phases = PhaseBreakdown(scenario: scenario, cases: cases, comparisons: comparisons)
        if compact && scaling.isEmpty && phases == nil && notRun.isEmpty { return .empty }
        return Markup.element("section", ["class": "scenario", "id": anchor]) {
            Markup.element("h3") {
                scenario
                Markup.element("span", ["class": "muted count"]) { " · " + CaseTally(cases).summaryLine }
            }
            if !measured.isEmpty && !compact { metricTable(measured) }
            if !scaling.isEmpty || phases != nil {
                Markup.element("div", ["class": "charts"]) {
                    for plot in scaling { ScalingChart(plot: plot).markup }
                    if let phases { PhaseChart(breakdown: phases).markup }
                }
            }
            if !notRun.isEmpty { notRunList(notRun) }
            let withStats = measured.filter { !$0.kvmStats.isEmpty || $0.phaseStats != nil || $0.perVCPU != nil }
            if !withStats.isEmpty && !compact {
                Markup.element("details", ["class": "stats-group"]) {
                    Markup.element("summary") {
                        "KVM stats deltas and per-vCPU figures"
                        Markup.element("span", ["class": "muted"]) { " · \(withStats.count) case\(withStats.count == 1 ? "" : "s")" }
                    }
                    for item in withStats { CaseStatsDetails(item: item).markup }
                }
            }
        }
    }

    private func metricTable(_ measured: [CaseResult]) -> Markup {
        let compared = comparisons != nil && measured.contains { comparisons?.contains(caseKey: $0.key) == true }
        var titles = ["Case", "Metric", "Median#", "Min#", "Max#", "n#"]
        if compared { titles += ["Before#", "Change#", "p#", "Verdict"] }
        var table = HTMLTable(titles: titles, className: "results")
        for item in measured {
            for (position, metric) in item.metrics.enumerated() {
                var cells: [HTMLTable.Cell] = []
                if position == 0 {
                    cells.append(.init(markup: caseCell(item), className: "case", rowSpan: item.metrics.count))
                }
                cells.append(.init(markup: Markup.element("span", ["class": "metric-name"]) { metric.name }))
                cells += valueCells(metric)
                let comparison = comparisons?[item.key, metric.name]
                if compared { cells += comparisonCells(comparison) }
                table.append(cells, className: comparison?.verdict.cssClass)
            }
        }
        return table.markup
    }

    private func caseCell(_ item: CaseResult) -> Markup {
        Markup.joined([
            HTMLPieces.parameters(item.parameters),
            .joined(item.notes.map { note in Markup.element("div", ["class": "note"]) { note } }),
        ])
    }

    private func valueCells(_ metric: Metric) -> [HTMLTable.Cell] {
        guard let range = SampleRange(metric) else {
            return ["n/a", "n/a", "n/a", "0"].map { HTMLTable.Cell($0, numeric: true) }
        }
        let format = { UnitFormatting.format($0, unit: metric.unit) }
        return [
            .init(format(range.median), numeric: true, className: "median"),
            .init(format(range.min), numeric: true), .init(format(range.max), numeric: true),
            .init(String(range.count), numeric: true),
        ]
    }

    private func comparisonCells(_ comparison: MetricComparison?) -> [HTMLTable.Cell] {
        guard let comparison else {
            return Array(repeating: HTMLTable.Cell("—", numeric: true, className: "muted"), count: 3) + [HTMLTable.Cell("—", className: "muted")]
        }
        return [
            .init(UnitFormatting.format(comparison.beforeMedian, unit: comparison.unit), numeric: true),
            .init(UnitFormatting.change(comparison.change), numeric: true, className: "change"),
            .init(UnitFormatting.pValue(comparison.pValue), numeric: true),
            .init(markup: HTMLPieces.badge(comparison.verdict.label, className: comparison.verdict.cssClass)),
        ]
    }

    private func notRunList(_ items: [CaseResult]) -> Markup {
        Markup.element("ul", ["class": "not-run"]) {
            for item in items {
                Markup.element("li") {
                    HTMLPieces.badge(item.status.rawValue, className: "s-" + item.status.rawValue)
                    " "
                    HTMLPieces.parameters(item.parameters)
                    Markup.element("div", ["class": "reason"]) { item.reason ?? "no reason given" }
                    for note in item.notes { Markup.element("div", ["class": "note"]) { note } }
                }
            }
        }
    }
}

/// A case's KVM stats deltas (total and per named phase) and per-vCPU spread, folded in `<details>`.
struct CaseStatsDetails {
    let item: CaseResult

    var markup: Markup {
        let changed = item.kvmStats.values.filter { $0 != 0 }.count
        return Markup.element("details", ["class": "kvm-stats"]) {
            Markup.element("summary") {
                HTMLPieces.parameters(item.parameters)
                Markup.element("span", ["class": "muted"]) { " \(changed) of \(item.kvmStats.count) changed" }
            }
            statsTable
            if let perVCPU = item.perVCPU, !perVCPU.isEmpty { perVCPUTable(perVCPU) }
        }
    }

    private var statsTable: Markup {
        let phaseStats = item.phaseStats ?? [:]
        let phases = phaseStats.keys.sorted()
        let names = Set(item.kvmStats.keys).union(phaseStats.values.flatMap(\.keys)).sorted()
        var table = HTMLTable([.init(title: "Stat"), .init(title: "Delta", numeric: true)]
                              + phases.map { HTMLTable.Column(title: $0, numeric: true) }, className: "compact")
        for name in names {
            let values = [item.kvmStats[name]] + phases.map { phaseStats[$0]?[name] }
            let cells = values.map { HTMLTable.Cell($0.map(UnitFormatting.count) ?? "—", numeric: true) }
            let isZero = values.allSatisfy { ($0 ?? 0) == 0 }
            table.append([.init(name)] + cells, className: isZero ? "zero" : nil)
        }
        return table.markup
    }

    /// Per metric, how evenly the vCPUs did: min, median, max and max ÷ min.
    private func perVCPUTable(_ perVCPU: [[String: Double]]) -> Markup {
        let names = Set(perVCPU.flatMap(\.keys)).sorted()
        var table = HTMLTable(titles: ["Per-vCPU metric (\(perVCPU.count) vCPUs)", "Min#", "Median#", "Max#", "Max ÷ min#"],
                              className: "compact")
        for name in names {
            let values = perVCPU.compactMap { $0[name] }.filter(\.isFinite).sorted()
            guard let low = values.first, let high = values.last else { continue }
            let median = values.count % 2 == 1 ? values[values.count / 2]
                : (values[values.count / 2 - 1] + values[values.count / 2]) / 2
            let unit = item.metric(named: name)?.unit ?? .count
            let format = { UnitFormatting.format($0, unit: unit) }
            table.append([
                .init(name), .init(format(low), numeric: true), .init(format(median), numeric: true),
                .init(format(high), numeric: true),
                .init(low > 0 ? UnitFormatting.format(high / low, unit: .ratio) : "n/a", numeric: true),
            ])
        }
        return table.markup
    }
}
