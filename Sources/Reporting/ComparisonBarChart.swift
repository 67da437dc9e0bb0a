import Results

/// Before/after bars for one scenario's compared metrics, relative to the before median (so metrics
/// of any unit share one axis): before is 1×, after is after ÷ before. Whiskers show the ratio's
/// confidence interval when the comparison has one, otherwise the range of the samples. The band
/// around 1× is the "unchanged" threshold.
struct ComparisonBarChart {
    let scenario: String
    let metrics: [MetricComparison]
    let beforeLabel: String
    let afterLabel: String

    private let width = 920.0
    private let groupHeight = 56.0

    /// One metric's bars, relative to its before median.
    private struct Group {
        var metric: MetricComparison
        var after: Double
        var beforeWhisker: (low: Double, high: Double)?
        var afterWhisker: (low: Double, high: Double)?

        init?(_ metric: MetricComparison) {
            let base = metric.beforeMedian
            guard base.isFinite, base != 0, metric.afterMedian.isFinite else { return nil }
            self.metric = metric
            after = metric.afterMedian / base
            beforeWhisker = SampleRange(samples: metric.beforeSamples, median: base).map { ($0.min / base, $0.max / base) }
            if let interval = metric.ratioInterval, interval.count == 2 {
                afterWhisker = (interval[0], interval[1])
            } else {
                afterWhisker = SampleRange(samples: metric.afterSamples, median: metric.afterMedian).map { ($0.min / base, $0.max / base) }
            }
        }

        var largest: Double {
            [1, after, beforeWhisker?.high ?? 0, afterWhisker?.high ?? 0].filter(\.isFinite).max() ?? 1
        }
    }

    var markup: Markup {
        let groups = metrics.compactMap(Group.init)
        let legend = ChartCanvas.legend(legendItems(groups), x: 12, y: 62, width: width - 24)
        let top = 62 + legend.height + 4
        let area = PlotArea(left: 16, top: top, right: width - 260, bottom: top + Double(groups.count) * groupHeight)
        let height = area.bottom + 46
        let ticks = ValueTicks(upTo: groups.map(\.largest).max() ?? 1.2, count: 6)
        let scale = AxisScale(domain: (0, ticks.top), pixels: (area.left, area.right))
        let threshold = metrics.first?.threshold ?? 0
        let title = "\(scenario): after relative to before"

        return ChartCanvas.figure(kind: .bars, title: title,
                                  subtitle: "bars: medians ÷ before median · whiskers: confidence interval of the ratio, or sample range",
                                  width: width, height: height) {
            legend.markup
            if threshold > 0 {
                let low = scale.position(max(0, 1 - threshold)), high = scale.position(1 + threshold)
                Markup.leaf("rect", [
                    "x": svgNumber(low), "y": svgNumber(area.top), "width": svgNumber(high - low),
                    "height": svgNumber(area.height), "fill": "#f3f4f6", "class": "threshold-band",
                ])
            }
            ChartCanvas.valueAxisX(ticks, labels: ticks.labels(divisor: 1, suffix: "×"), scale: scale, area: area)
            ChartCanvas.line(x1: scale.position(1), y1: area.top, x2: scale.position(1), y2: area.bottom,
                             stroke: ChartPalette.ink, width: 1, dashed: true)
            ChartCanvas.text("after ÷ before median (×)", x: (area.left + area.right) / 2, y: height - 12,
                             anchor: "middle", className: "axis-label")
            for (index, group) in groups.enumerated() {
                groupMarkup(group, y: area.top + Double(index) * groupHeight, scale: scale, area: area)
            }
        }
    }

    /// Before, then the after side's name and one entry per verdict colour the chart uses.
    private func legendItems(_ groups: [Group]) -> [ChartCanvas.LegendItem] {
        var items = [
            ChartCanvas.LegendItem(label: "before: " + beforeLabel, colour: ChartPalette.before),
            ChartCanvas.LegendItem(label: "after: " + afterLabel + ",", colour: "none", style: .textOnly),
        ]
        var colours: [String] = []
        for verdict in groups.map(\.metric.verdict).sorted(by: { $0.reportRank < $1.reportRank }) {
            let colour = ChartPalette.verdict(verdict)
            guard !colours.contains(colour) else { continue }
            colours.append(colour)
            let meaning = colour == ChartPalette.neutral ? "no significant change" : verdict.label
            items.append(.init(label: meaning, colour: colour))
        }
        return items
    }

    private func groupMarkup(_ group: Group, y: Double, scale: AxisScale, area: PlotArea) -> Markup {
        let metric = group.metric
        let label = ParameterDisplay.summary(metric.parameters) + " · " + metric.metric
        let colour = ChartPalette.verdict(metric.verdict)
        let annotation = UnitFormatting.format(metric.beforeMedian, unit: metric.unit) + " → "
            + UnitFormatting.format(metric.afterMedian, unit: metric.unit)
        return Markup.element("g", ["class": "bar-group " + metric.verdict.cssClass]) {
            Markup.element("title") { "\(label): \(annotation), \(UnitFormatting.change(metric.change)), \(metric.verdict.label)" }
            ChartCanvas.text(TextMetrics.truncated(label, toWidth: area.width), x: area.left, y: y + 14, className: "bar-label")
            bar(from: scale.position(0), to: scale.position(1), y: y + 22, colour: ChartPalette.before)
            whisker(group.beforeWhisker, y: y + 27, scale: scale)
            bar(from: scale.position(0), to: scale.position(group.after), y: y + 35, colour: colour)
            whisker(group.afterWhisker, y: y + 40, scale: scale)
            ChartCanvas.text(UnitFormatting.change(metric.change) + " " + metric.verdict.label, x: area.right + 14, y: y + 31,
                             className: "bar-change " + metric.verdict.cssClass)
            ChartCanvas.text(annotation, x: area.right + 14, y: y + 46, className: "bar-values")
        }
    }

    private func bar(from start: Double, to end: Double, y: Double, colour: String) -> Markup {
        Markup.leaf("rect", [
            "x": svgNumber(start), "y": svgNumber(y), "width": svgNumber(max(0, end - start)), "height": "10",
            "rx": "2", "fill": colour,
        ])
    }

    private func whisker(_ range: (low: Double, high: Double)?, y: Double, scale: AxisScale) -> Markup {
        guard let range, range.low.isFinite, range.high.isFinite else { return .empty }
        let low = scale.position(range.low), high = scale.position(range.high)
        return .joined([
            ChartCanvas.line(x1: low, y1: y, x2: high, y2: y, stroke: ChartPalette.ink, width: 1.2, className: "whisker"),
            ChartCanvas.line(x1: low, y1: y - 4, x2: low, y2: y + 4, stroke: ChartPalette.ink, width: 1.2),
            ChartCanvas.line(x1: high, y1: y - 4, x2: high, y2: y + 4, stroke: ChartPalette.ink, width: 1.2),
        ])
    }
}
